import type { CheckedNormSaved, NormBackwardResult, NormForwardResult, NormKernels, ResolvedNormBackwardOptions, ResolvedNormOptions } from '../../norms/norm-types';
import type { BufferPool } from '../buffer-pool';
import type { GpuContext } from '../context';
import { encodeLaunches } from '../dispatch';
import type { GpuErrorLog } from '../gpu-errors';
import { prepareNormBackward, prepareNormForward, type NormBackwardArgs, type NormForwardArgs } from './encode-norms';
import { run, STORAGE_OUT } from '../host-forward';
import { planPartialsFold } from '../statistics-plan';
import { statsByteLength } from '../resident-options';
import { normApplyLaunches, normBackwardLaunches, normForwardLaunches, planNormBackward, planNormForward, rowsView, type NormBackwardWork, type NormCall, type NormForwardWork } from './norm-launches';
import { BatchNormError } from '../../errors';
import { runningRowStatistics, updatedInstanceRunning } from '../../norms/instance-running';

/**
 * Layer, RMS, group and instance norm on one engine's device (GpuBatchNorm.norms): the host-array
 * calls the norm API makes when it runs on the GPU (NormKernels). Each call uploads its inputs,
 * records the launches of norm-launches.ts into one compute pass, submits and reads back; GPU errors
 * reject the call (host-forward.ts, run).
 */
export class GpuNorms implements NormKernels {
  constructor(
    private readonly context: GpuContext,
    private readonly pool: BufferPool,
    /** Throws when the engine was disposed or lost its device. */
    private readonly checkAlive: () => void,
    /** The engine's: errors of encode… calls wait there for checkErrors(). */
    private readonly errors: GpuErrorLog,
  ) {}

  /**
   * Forward on GPU-resident buffers, recorded into `encoder`: row statistics into `stats` (the
   * caller's, or a new buffer returned to the caller), y. Options in resolved form (a NormView and
   * every default filled in).
   */
  encodeForward(encoder: GPUCommandEncoder, args: NormForwardArgs): GPUBuffer {
    this.checkAlive();
    return this.errors.run(this.context.device, 'norms.encodeForward', prepareNormForward(this.context, encoder, args));
  }

  /** Backward on GPU-resident buffers: dx, and dγ, dβ, dz into those given. */
  encodeBackward(encoder: GPUCommandEncoder, args: NormBackwardArgs): void {
    this.checkAlive();
    this.errors.run(this.context.device, 'norms.encodeBackward', prepareNormBackward(this.context, encoder, args));
  }

  /**
   * Kernel launches of one host-array call: forward (statistics slabs, fold, finalize, RMS, apply
   * slabs; through frozen running statistics the apply slabs alone) or backward (3, or 2 and the dx
   * slabs).
   */
  dispatchCount(op: 'forward' | 'backward', resolved: Pick<ResolvedNormOptions, 'kind' | 'view' | 'eps' | 'activation'> & Partial<Pick<ResolvedNormOptions, 'running'>>): number {
    this.checkAlive();
    const frozen = resolved.running !== undefined && !resolved.running.training;
    if (op === 'backward') {
      const work = planNormBackward(this.context, { ...resolved, frozen });
      return work.rowWise ? 3 : 2 + work.apply.slabs.length;
    }
    const work = planNormForward(this.context, resolved);
    if (frozen) return work.apply.slabs.length;
    return statisticsDispatches(this.context, resolved, work) + (resolved.kind === 'rms' ? 1 : 0) + (work.rowApply ? 1 : work.apply.slabs.length);
  }

  async forwardOf(x: Float32Array, resolved: ResolvedNormOptions): Promise<NormForwardResult | undefined> {
    this.checkAlive();
    const context = this.context;
    const call: NormCall = resolved;
    let work: NormForwardWork;
    try {
      work = planNormForward(context, call);
    } catch (error) {
      // A channels-last tensor above one binding (its statistics bind it whole): the CPU path's.
      if (error instanceof BatchNormError && error.code === 'too-large' && resolved.view.channelsLast) return undefined;
      throw error;
    }
    const { rows, size } = resolved.view;
    const { running } = resolved;
    // Instance norm in inference: the rows' statistics are the running ones, laid out as the
    // statistics kernels would write them, and only the apply runs.
    const frozen = running && !running.training ? runningRowStatistics(running, resolved.view, resolved.eps) : undefined;
    return run(context, this.pool, 'normForward', async (transfer) => {
      const buffers = {
        x: transfer.upload('x', x)!,
        y: transfer.buffer('y', size * 4, STORAGE_OUT()),
        stats: frozen ? transfer.upload('stats', rowStatsBlocks(frozen, rows))! : transfer.buffer('stats', statsByteLength(rows), STORAGE_OUT()),
        gamma: transfer.upload('gamma', resolved.gamma),
        beta: transfer.upload('beta', resolved.beta),
        residual: transfer.upload('residual', resolved.residual),
      };
      const encoder = context.device.createCommandEncoder({ label: `BatchNorm.${resolved.kind}Norm.forward.encoder` });
      const { launches, cleared } = frozen ? { launches: normApplyLaunches(context, call, work.apply, buffers), cleared: [] } : normForwardLaunches(context, call, work, buffers);
      encodeLaunches(context, encoder, `${resolved.kind}NormForward`, launches, cleared);
      if (frozen) {
        const [y] = await transfer.submitAndRead(encoder, [[buffers.y, size * 4]]);
        return { y, mean: Float32Array.from(frozen.mean), invStd: Float32Array.from(frozen.invStd), runningMean: running!.runningMean.slice(), runningVar: running!.runningVar.slice() };
      }
      const [y, stats] = await transfer.submitAndRead(encoder, [
        [buffers.y, size * 4],
        [buffers.stats, 3 * rows * 4],
      ]);
      const invStd = stats.slice(2 * rows, 3 * rows);
      if (resolved.kind === 'rms') return { y, invStd };
      const mean = stats.slice(0, rows);
      if (!running) return { y, mean, invStd };
      // The running update is O(C·N), done here from the kernels' float32 mean and variance.
      return { y, mean, invStd, ...updatedInstanceRunning(running, resolved.convention, resolved.view, mean, stats.subarray(rows, 2 * rows)) };
    });
  }

  async backwardOf(dy: Float32Array, x: Float32Array, resolved: ResolvedNormBackwardOptions, saved: CheckedNormSaved): Promise<NormBackwardResult | undefined> {
    this.checkAlive();
    const context = this.context;
    // Frozen running statistics (instance norm, training: false): dx without the row terms.
    const call: NormCall = { ...resolved, frozen: resolved.running !== undefined && !resolved.running.training };
    let work: NormBackwardWork;
    try {
      work = planNormBackward(context, call);
    } catch (error) {
      // Kernels this device cannot run for this call: the host-array API computes it on the CPU path.
      if (error instanceof BatchNormError && (error.code === 'too-large' || error.code === 'unsupported-device')) return undefined;
      throw error;
    }
    const { rows, size, params } = resolved.view;
    const smooth = resolved.activation !== 'none' && resolved.activation !== 'relu';
    return run(context, this.pool, 'normBackward', async (transfer) => {
      // [mean | invStd]; RMS norm's mean block is never read (zeros).
      const statsValues = new Float32Array(2 * rows);
      if (saved.mean) statsValues.set(saved.mean, 0);
      statsValues.set(saved.invStd, rows);
      const residual = resolved.residual;
      const buffers = {
        x: transfer.upload('x', x)!,
        dy: transfer.upload('dy', dy)!,
        stats: transfer.upload('stats', statsValues)!,
        layout: { meanOffset: 0, invStdOffset: rows },
        gamma: transfer.upload('gamma', resolved.gamma),
        beta: transfer.upload('beta', resolved.beta),
        y: resolved.activation === 'relu' ? transfer.upload('y', saved.y) : undefined,
        residual: smooth && residual instanceof Float32Array ? transfer.upload('residual', residual) : undefined,
        dx: transfer.buffer('dx', size * 4, STORAGE_OUT()),
        dgamma: transfer.buffer('dgamma', params * 4, STORAGE_OUT()),
        dbeta: resolved.kind === 'rms' ? undefined : transfer.buffer('dbeta', params * 4, STORAGE_OUT()),
        dz: residual !== undefined ? transfer.buffer('dz', size * 4, STORAGE_OUT()) : undefined,
      };
      const encoder = context.device.createCommandEncoder({ label: `BatchNorm.${resolved.kind}Norm.backward.encoder` });
      encodeLaunches(context, encoder, `${resolved.kind}NormBackward`, normBackwardLaunches(context, call, work, buffers));
      const parts: [GPUBuffer, number][] = [
        [buffers.dx, size * 4],
        [buffers.dgamma, params * 4],
      ];
      if (buffers.dbeta) parts.push([buffers.dbeta, params * 4]);
      if (buffers.dz) parts.push([buffers.dz, size * 4]);
      const [dx, dgamma, ...rest] = await transfer.submitAndRead(encoder, parts);
      const result: NormBackwardResult = { dx, dgamma };
      if (buffers.dbeta) result.dbeta = rest.shift();
      if (buffers.dz) result.dz = rest.shift();
      return result;
    });
  }
}

/** [mean | variance | invStd] per row, as the statistics kernels lay them out (forwardStatsLayout). */
function rowStatsBlocks(stats: { mean: Float64Array; variance: Float64Array; invStd: Float64Array }, rows: number): Float32Array {
  const blocks = new Float32Array(3 * rows);
  blocks.set(stats.mean, 0);
  blocks.set(stats.variance, rows);
  blocks.set(stats.invStd, 2 * rows);
  return blocks;
}

/** Launches of the statistics: one per slab, the fold of a two-level finalize, the finalize. */
function statisticsDispatches(context: GpuContext, call: NormCall, work: NormForwardWork): number {
  const { plan } = work.statistics;
  const fold = planPartialsFold(rowsView(call.view), plan.chunks, context.tuning, context.maxWorkgroupsPerDimension);
  return plan.slabs.length + (fold ? 1 : 0) + 1;
}
