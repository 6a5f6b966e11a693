import type { CheckedSaved, ResolvedBackwardOptions } from '../backward-options';
import type { BackwardResult } from '../types';
import type { BufferPool } from './buffer-pool';
import type { GpuContext } from './context';
import { encodeLaunches } from './dispatch';
import { encodeBackward } from './encode-backward';
import { inferenceFoldLaunch } from './encode-forward';
import { run, STORAGE_IN, STORAGE_OUT, tensorBufferBytes, tensorValues, type Transfer } from './host-forward';
import { statsByteLength } from './resident-options';

/**
 * The stats buffer of a backward on host arrays, [mean | variance | invStd | scale | shift], of
 * which the backward kernels read mean and invStd:
 * - train: the saved mean and invStd are uploaded; the other blocks are never read and stay NaN.
 * - eval: the inference fold of the running statistics (running-fold.wgsl, which forwardInference
 *   runs inside its apply or, where it cannot, in this very kernel).
 */
function encodeStats(context: GpuContext, transfer: Transfer, encoder: GPUCommandEncoder, o: ResolvedBackwardOptions, saved: CheckedSaved, gamma: GPUBuffer | undefined): GPUBuffer {
  const C = o.view.channels;
  const stats = transfer.buffer('stats', statsByteLength(C), STORAGE_IN());
  if (o.mode === 'eval') {
    const running = { gamma, beta: transfer.upload('beta', o.beta), runningMean: transfer.upload('runningMean', o.runningMean), runningVar: transfer.upload('runningVar', o.runningVar) };
    encodeLaunches(context, encoder, 'backwardStats', [inferenceFoldLaunch(context, o, running, stats)]);
    return stats;
  }
  const blocks = new Float32Array(5 * C).fill(NaN);
  blocks.set(saved.mean!, 0);
  blocks.set(saved.invStd!, 2 * C);
  context.device.queue.writeBuffer(stats, 0, blocks);
  return stats;
}

export function gpuBackward(
  context: GpuContext,
  pool: BufferPool,
  dy: Float32Array,
  x: Float32Array,
  o: ResolvedBackwardOptions,
  saved: CheckedSaved,
): Promise<BackwardResult> {
  return run(context, pool, 'backward', async (transfer) => {
    const C = o.view.channels;
    const tensorBytes = tensorBufferBytes(x.length, o.dtype);
    const encoder = context.device.createCommandEncoder({ label: 'BatchNorm.backward.encoder' });
    const gamma = transfer.upload('gamma', o.gamma);
    const args = {
      ...o,
      dy: transfer.uploadTensor('dy', dy, o.dtype)!,
      x: transfer.uploadTensor('x', x, o.dtype)!,
      y: transfer.uploadTensor('y', saved.y, o.dtype),
      dx: transfer.buffer('dx', tensorBytes, STORAGE_OUT()),
      stats: encodeStats(context, transfer, encoder, o, saved, gamma),
      gamma,
      dgamma: transfer.buffer('dgamma', C * 4, STORAGE_OUT()),
      dbeta: transfer.buffer('dbeta', C * 4, STORAGE_OUT()),
      dz: o.residualGradient ? transfer.buffer('dz', tensorBytes, STORAGE_OUT()) : undefined,
    };
    encodeBackward(context, encoder, args);
    const parts: [GPUBuffer, number][] = [
      [args.dx, tensorBytes],
      [args.dgamma, C * 4],
      [args.dbeta, C * 4],
    ];
    if (args.dz) parts.push([args.dz, tensorBytes]);
    const [dxPart, dgamma, dbeta, dzPart] = await transfer.submitAndRead(encoder, parts);
    const dx = tensorValues(dxPart, x.length, o.dtype);
    return dzPart ? { dx, dgamma, dbeta, dz: tensorValues(dzPart, x.length, o.dtype) } : { dx, dgamma, dbeta };
  });
}
