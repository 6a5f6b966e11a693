import { checkSaved, resolveBackwardOptions } from '../backward-options';
import { checkInput, resolveOptions } from '../options';
import type { BackwardOptions, BackwardResult, BatchNormOptions, ForwardTrainResult, SavedStatistics } from '../types';
import { backwardScratchCount, destroyBackwardScratch } from './backward-scratch';
import { BufferPool } from './buffer-pool';
import { createGpuContext, destroyGpuContext, type GpuContext } from './context';
import { encodeBackward, type GpuBackwardArgs } from './encode-backward';
import { encodeForwardInference, encodeForwardTrain, encodeStatistics, type GpuForwardArgs, type GpuStatisticsArgs } from './encode-forward';
import { gpuChannelStatistics } from './host-statistics';
import type { ChannelStatistics } from '../channel-statistics';
import { withErrorScopes } from './gpu-errors';
import { gpuBackward } from './host-backward';
import { gpuForwardInference, gpuForwardTrain } from './host-forward';
import { statsByteLength, statsByteOffset, type StatsBlock } from './resident-options';
import type { KernelTuning } from './tuning';

/**
 * The GPU-resident API: kernels recorded into a caller's command encoder on caller-owned buffers,
 * with no submit and no readback, plus the host-array operations built on the same encoders.
 * Every argument is validated before anything is encoded.
 */
export class GpuBatchNorm {
  readonly device: GPUDevice;
  private readonly context: GpuContext;
  private readonly pool: BufferPool;

  constructor(device: GPUDevice, tuning: KernelTuning) {
    this.device = device;
    this.context = createGpuContext(device, tuning);
    this.pool = new BufferPool(device);
  }

  /** Training forward: y, batch statistics into `stats`, running statistics updated in place. */
  encodeForwardTrain(encoder: GPUCommandEncoder, args: GpuForwardArgs): GPUBuffer {
    return encodeForwardTrain(this.context, encoder, args);
  }

  /** Batch statistics only (mean, variance, invStd into `stats`): a shard's part of synchronized BN. */
  encodeStatistics(encoder: GPUCommandEncoder, args: GpuStatisticsArgs): GPUBuffer {
    return encodeStatistics(this.context, encoder, args);
  }

  async channelStatistics(x: Float32Array, opts: BatchNormOptions): Promise<ChannelStatistics> {
    const resolved = resolveOptions(opts, 'train');
    checkInput('x', x, resolved.view);
    return withErrorScopes(this.device, 'channelStatistics', () => gpuChannelStatistics(this.context, this.pool, x, resolved));
  }

  /** Inference forward with the running statistics. */
  encodeForwardInference(encoder: GPUCommandEncoder, args: GpuForwardArgs): GPUBuffer {
    return encodeForwardInference(this.context, encoder, args);
  }

  /**
   * Backward: dx, and dgamma/dbeta when given (added to their contents with `accumulate`), from dy,
   * x and the stats buffer of the forward (encodeForwardTrain for mode 'train', the default;
   * encodeForwardInference for mode 'eval'). With activation 'relu', dy is masked where the forward
   * output was ≤ 0, recomputed from x and the stats buffer.
   */
  encodeBackward(encoder: GPUCommandEncoder, args: GpuBackwardArgs): void {
    encodeBackward(this.context, encoder, args);
  }

  /** A buffer for the statistics of C channels: [mean | variance | invStd | scale | shift]. */
  createStatsBuffer(channels: number, label = 'BatchNorm.stats'): GPUBuffer {
    return this.device.createBuffer({
      label,
      size: statsByteLength(channels),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
  }

  statsByteOffset(block: StatsBlock, channels: number): number {
    return statsByteOffset(block, channels);
  }

  async forwardTrain(x: Float32Array, opts: BatchNormOptions): Promise<ForwardTrainResult> {
    const resolved = resolveOptions(opts, 'train');
    checkInput('x', x, resolved.view);
    return withErrorScopes(this.device, 'forwardTrain', () => gpuForwardTrain(this.context, this.pool, x, resolved));
  }

  async forwardInference(x: Float32Array, opts: BatchNormOptions): Promise<Float32Array> {
    const resolved = resolveOptions(opts, 'inference');
    checkInput('x', x, resolved.view);
    return withErrorScopes(this.device, 'forwardInference', () => gpuForwardInference(this.context, this.pool, x, resolved));
  }

  async backward(dy: Float32Array, x: Float32Array, opts: BackwardOptions, saved?: SavedStatistics): Promise<BackwardResult> {
    const resolved = resolveBackwardOptions(opts);
    checkInput('dy', dy, resolved.view);
    checkInput('x', x, resolved.view);
    const stats = checkSaved(saved, resolved);
    return withErrorScopes(this.device, 'backward', () => gpuBackward(this.context, this.pool, dy, x, resolved, stats));
  }

  /** GPU buffers the engine currently owns (pool, scratch, uniforms, constants). */
  get liveBuffers(): number {
    return this.pool.liveBuffers + this.context.scratch.count + this.context.uniforms.size + this.context.constants.count + backwardScratchCount(this.context);
  }

  destroy(): void {
    this.pool.destroy();
    destroyBackwardScratch(this.context);
    destroyGpuContext(this.context);
  }
}
