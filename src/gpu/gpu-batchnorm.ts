import { checkSaved, resolveBackwardOptions } from '../backward-options';
import { checkInput, resolveOptions } from '../options';
import type { BackwardOptions, BackwardResult, BatchNormOptions, ForwardTrainResult, SavedForward } from '../types';
import { backwardScratchCount, destroyBackwardScratch } from './backward-scratch';
import { BufferPool } from './buffer-pool';
import { createGpuContext, destroyGpuContext, type GpuContext } from './context';
import { prepareBackward, type GpuBackwardArgs } from './encode-backward';
import { prepareForwardInference, prepareForwardTrain, prepareStatistics, type GpuForwardArgs, type GpuStatisticsArgs } from './encode-forward';
import { gpuChannelStatistics } from './host-statistics';
import type { ChannelStatistics } from '../channel-statistics';
import { GpuErrorLog } from './gpu-errors';
import { dispatchCount } from './fused-small';
import { BatchNormError } from '../errors';
import { gpuBackward } from './host-backward';
import { gpuForwardInference, gpuForwardTrain } from './host-forward';
import { statsByteLength, statsByteOffset, type StatsBlock } from './resident-options';
import { resolveTuning, tuningForAdapter, type KernelTuning } from './tuning';
import type { AdapterSummary } from '../types';
import type { ChannelView } from '../layout';
import { planElementwiseWork, planReduction, type ReductionKernel } from './slab-launches';

/** How an engine's kernels are set up: the same for createBatchNorm and the TF.js adapter. */
export interface GpuKernelOptions {
  /** Overrides of the launch shapes, applied over the adapter's. */
  tuning?: Partial<KernelTuning>;
}

/** The kernels on `device`: the defaults, then the tuning `adapter` calls for, then `options.tuning`. */
export function createGpuKernels(device: GPUDevice, adapter: AdapterSummary | undefined, options: GpuKernelOptions = {}): GpuBatchNorm {
  return new GpuBatchNorm(device, resolveTuning(options.tuning, device.limits.maxComputeInvocationsPerWorkgroup, tuningForAdapter(adapter)));
}

/**
 * The GPU-resident API: kernels recorded into a caller's command encoder on caller-owned buffers,
 * with no submit and no readback, plus the host-array operations built on the same encoders.
 * Every argument is validated before anything is encoded. GPU errors of host-array calls reject
 * the call; those of the encode… calls are kept until checkErrors().
 */
export class GpuBatchNorm {
  readonly device: GPUDevice;
  private readonly context: GpuContext;
  private readonly pool: BufferPool;
  private readonly errors = new GpuErrorLog();
  private destroyed: 'disposed' | 'device-lost' | undefined;

  constructor(device: GPUDevice, tuning: KernelTuning) {
    this.device = device;
    this.context = createGpuContext(device, tuning);
    this.pool = new BufferPool(device);
  }

  /** The launch shapes in use: the defaults, then the adapter's, then the caller's overrides. */
  get tuning(): Readonly<KernelTuning> {
    return this.context.tuning;
  }

  /** Training forward: y, batch statistics into `stats`, running statistics updated in place. */
  encodeForwardTrain(encoder: GPUCommandEncoder, args: GpuForwardArgs): GPUBuffer {
    this.checkAlive();
    return this.errors.run(this.device, 'encodeForwardTrain', prepareForwardTrain(this.context, encoder, args));
  }

  /** Batch statistics only (mean, variance, invStd into `stats`): a shard's part of synchronized BN. */
  encodeStatistics(encoder: GPUCommandEncoder, args: GpuStatisticsArgs): GPUBuffer {
    this.checkAlive();
    return this.errors.run(this.device, 'encodeStatistics', prepareStatistics(this.context, encoder, args));
  }

  async channelStatistics(x: Float32Array, opts: BatchNormOptions): Promise<ChannelStatistics> {
    this.checkAlive();
    const resolved = resolveOptions(opts, 'train');
    checkInput('x', x, resolved.view);
    planReduction(this.context, resolved.view, 'stats');
    return gpuChannelStatistics(this.context, this.pool, x, resolved);
  }

  /** Inference forward with the running statistics. */
  encodeForwardInference(encoder: GPUCommandEncoder, args: GpuForwardArgs): GPUBuffer {
    this.checkAlive();
    return this.errors.run(this.device, 'encodeForwardInference', prepareForwardInference(this.context, encoder, args));
  }

  /**
   * Backward: dx, and dgamma/dbeta when given (added to their contents with `accumulate`), from dy,
   * x and the stats buffer of the forward (encodeForwardTrain for mode 'train', the default;
   * encodeForwardInference for mode 'eval'). With activation 'relu', `y` (the forward's output
   * buffer) is required: dy passes where y > 0 and is masked elsewhere (±0, negative, NaN).
   */
  encodeBackward(encoder: GPUCommandEncoder, args: GpuBackwardArgs): void {
    this.checkAlive();
    this.errors.run(this.device, 'encodeBackward', prepareBackward(this.context, encoder, args));
  }

  /**
   * Resolves once the GPU has reported on every encode… call so far (error scopes answer
   * asynchronously); rejects with one 'gpu-error' listing what they caught (validation or out of
   * memory, with WebGPU's message naming the object), and forgets it.
   */
  checkErrors(): Promise<void> {
    return this.errors.check();
  }

  /** A buffer for the statistics of C channels: [mean | variance | invStd | scale | shift]. */
  createStatsBuffer(channels: number, label = 'BatchNorm.stats'): GPUBuffer {
    this.checkAlive();
    if (!Number.isSafeInteger(channels) || channels < 1) throw new BatchNormError('invalid-option', `channels must be a positive integer, got ${channels}`);
    if (statsByteLength(channels) > this.device.limits.maxBufferSize) {
      throw new BatchNormError('invalid-option', `${channels} channels need a ${statsByteLength(channels)}-byte statistics buffer; this device allows ${this.device.limits.maxBufferSize}`);
    }
    return this.errors.capture(this.device, 'createStatsBuffer', () =>
      this.device.createBuffer({ label, size: statsByteLength(channels), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST }),
    );
  }

  statsByteOffset(block: StatsBlock, channels: number): number {
    return statsByteOffset(block, channels);
  }

  /**
   * Kernel launches one encodeForwardTrain or (training) encodeBackward of this shape records: 1
   * when the tensor is small enough for one dispatch (tuning.oneDispatch), else one per slab of the
   * reduction and of the elementwise kernel, and the finalize between them.
   */
  dispatchCount(op: 'forwardTrain' | 'backward', opts: Pick<BatchNormOptions, 'shape' | 'layout'>): number {
    this.checkAlive();
    return dispatchCount(this.context, resolveOptions(opts, 'train').view, op);
  }

  // Host-array calls: GPU errors (caught by error scopes in run(), see host-forward.ts) reject the call.
  async forwardTrain(x: Float32Array, opts: BatchNormOptions): Promise<ForwardTrainResult> {
    this.checkAlive();
    const resolved = resolveOptions(opts, 'train');
    checkInput('x', x, resolved.view);
    this.checkFits(resolved.view, 'stats');
    return gpuForwardTrain(this.context, this.pool, x, resolved);
  }

  async forwardInference(x: Float32Array, opts: BatchNormOptions): Promise<Float32Array> {
    this.checkAlive();
    const resolved = resolveOptions(opts, 'inference');
    checkInput('x', x, resolved.view);
    this.checkFits(resolved.view);
    return gpuForwardInference(this.context, this.pool, x, resolved);
  }

  async backward(dy: Float32Array, x: Float32Array, opts: BackwardOptions, saved?: SavedForward): Promise<BackwardResult> {
    this.checkAlive();
    const resolved = resolveBackwardOptions(opts);
    checkInput('dy', dy, resolved.view);
    checkInput('x', x, resolved.view);
    const checked = checkSaved(saved, resolved);
    this.checkFits(resolved.view, 'backwardReduce');
    return gpuBackward(this.context, this.pool, dy, x, resolved, checked);
  }

  /** GPU buffers the engine currently owns (pool, scratch, uniforms, constants). */
  get liveBuffers(): number {
    return this.pool.liveBuffers + this.context.scratch.count + this.context.uniforms.size + this.context.constants.count + backwardScratchCount(this.context);
  }

  /**
   * Frees every buffer the engine owns; buffers of calls still in flight go when those finish.
   * Later calls throw `reason` ('device-lost' when the engine drops kernels whose device died).
   */
  destroy(reason: 'disposed' | 'device-lost' = 'disposed'): void {
    if (this.destroyed) return;
    this.destroyed = reason;
    this.pool.destroy();
    destroyBackwardScratch(this.context);
    destroyGpuContext(this.context);
  }

  /** A tensor this device cannot take is refused before anything is uploaded (see slab-launches.ts). */
  private checkFits(view: ChannelView, reduction?: ReductionKernel): void {
    planElementwiseWork(this.context, view);
    if (reduction) planReduction(this.context, view, reduction);
  }

  private checkAlive(): void {
    if (this.destroyed === 'disposed') throw new BatchNormError('disposed', 'these GPU kernels belong to a disposed engine');
    if (this.destroyed) throw new BatchNormError('device-lost', 'the device of these GPU kernels was lost; the engine continues on the CPU path (and on bn.gpu after recover())');
  }
}
