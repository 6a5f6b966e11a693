import type { ResolvedBackwardOptions } from '../backward-options';
import type { BackwardResult, SavedStatistics } from '../types';
import type { BufferPool } from './buffer-pool';
import type { GpuContext } from './context';
import { encodeLaunches } from './dispatch';
import { encodeBackward } from './encode-backward';
import { inferenceFoldLaunch } from './encode-forward';
import { run, STORAGE_IN, STORAGE_OUT, type Transfer } from './host-forward';
import { planSavedStats } from './plan-backward';
import { statsByteLength } from './resident-options';
import { shaders } from './shader-sources';

/**
 * The stats buffer of a backward on host arrays, [mean | variance | invStd | scale | shift], built on
 * the GPU exactly as the forward built it:
 * - train: the saved mean and invStd are uploaded, and with a relu scale and shift are recomputed
 *   on the GPU with finalize.wgsl's float32 expressions, so y = fma(x, scale, shift) — and the relu
 *   mask — match a GPU forward bit for bit. The variance block is never read and stays NaN.
 * - eval: the inference fold of the running statistics, the very kernel forwardInference runs.
 */
function encodeStats(context: GpuContext, transfer: Transfer, encoder: GPUCommandEncoder, o: ResolvedBackwardOptions, saved: SavedStatistics | undefined, gamma: GPUBuffer | undefined): GPUBuffer {
  const C = o.view.channels;
  const stats = transfer.buffer('stats', statsByteLength(C), STORAGE_IN());
  const beta = transfer.upload('beta', o.beta);
  if (o.mode === 'eval') {
    const running = { gamma, beta, runningMean: transfer.upload('runningMean', o.runningMean), runningVar: transfer.upload('runningVar', o.runningVar) };
    encodeLaunches(context, encoder, 'backwardStats', [inferenceFoldLaunch(context, o, running, stats)]);
    return stats;
  }
  const blocks = new Float32Array(5 * C).fill(NaN);
  blocks.set(saved!.mean, 0);
  blocks.set(saved!.invStd, 2 * C);
  context.device.queue.writeBuffer(stats, 0, blocks);
  if (o.activation === 'relu') {
    const launch = planSavedStats(o.view, context.tuning, context.maxWorkgroupsPerDimension);
    encodeLaunches(context, encoder, 'backwardStats', [
      {
        shader: shaders.savedStats,
        ...launch,
        constants: {},
        buffers: [gamma ?? context.constants.filled(C, 1), beta ?? context.constants.filled(C, 0), stats],
      },
    ]);
  }
  return stats;
}

export function gpuBackward(
  context: GpuContext,
  pool: BufferPool,
  dy: Float32Array,
  x: Float32Array,
  o: ResolvedBackwardOptions,
  saved: SavedStatistics | undefined,
): Promise<BackwardResult> {
  return run(context, pool, 'backward', async (transfer) => {
    const C = o.view.channels;
    const encoder = context.device.createCommandEncoder({ label: 'BatchNorm.backward.encoder' });
    const gamma = transfer.upload('gamma', o.gamma);
    const args = {
      ...o,
      dy: transfer.upload('dy', dy)!,
      x: transfer.upload('x', x)!,
      dx: transfer.buffer('dx', x.byteLength, STORAGE_OUT()),
      stats: encodeStats(context, transfer, encoder, o, saved, gamma),
      gamma,
      dgamma: transfer.buffer('dgamma', C * 4, STORAGE_OUT()),
      dbeta: transfer.buffer('dbeta', C * 4, STORAGE_OUT()),
    };
    encodeBackward(context, encoder, args);
    const [dx, dgamma, dbeta] = await transfer.submitAndRead(encoder, [
      [args.dx, x.byteLength],
      [args.dgamma, C * 4],
      [args.dbeta, C * 4],
    ]);
    return { dx, dgamma, dbeta };
  });
}
