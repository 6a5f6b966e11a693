import { checkInput, resolveOptions } from '../options';
import type { BatchNormOptions, ForwardTrainResult } from '../types';
import { BufferPool } from './buffer-pool';
import { createGpuContext, destroyGpuContext, type GpuContext } from './context';
import { encodeForwardInference, encodeForwardTrain, type GpuForwardArgs } from './encode-forward';
import { withErrorScopes } from './gpu-errors';
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

  /** Inference forward with the running statistics. */
  encodeForwardInference(encoder: GPUCommandEncoder, args: GpuForwardArgs): GPUBuffer {
    return encodeForwardInference(this.context, encoder, args);
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

  /** GPU buffers the engine currently owns (pool, scratch, uniforms, constants). */
  get liveBuffers(): number {
    return this.pool.liveBuffers + this.context.scratch.count + this.context.uniforms.size + this.context.constants.count;
  }

  destroy(): void {
    this.pool.destroy();
    destroyGpuContext(this.context);
  }
}
