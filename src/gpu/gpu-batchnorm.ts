import { checkSaved, resolveBackwardOptions, type CheckedSaved, type ResolvedBackwardOptions } from '../backward-options';
import { checkInput, resolveOptions, resolveScalarOptions, type ResolvedOptions } from '../options';
import { backwardOutput, forwardTrainOutput, tensorOutput } from '../tensor-output';
import type {
  BackwardOptions,
  BackwardResult,
  BackwardResultWithResidual,
  BatchNormOptions,
  Float16BackwardResult,
  Float16Data,
  Float16ForwardTrainResult,
  Float16Options,
  ResidualBackwardOptions,
  FloatInput,
  ForwardTrainResult,
  ForwardTrainResultWithRunning,
  RunningStatistics,
  SavedForward,
  TensorInput,
} from '../types';
import { backwardScratchCount, destroyBackwardScratch } from './backward-scratch';
import { BufferPool } from './buffer-pool';
import { createGpuContext, destroyGpuContext, type GpuContext } from './context';
import { prepareBackward, type GpuBackwardArgs } from './encode-backward';
import { prepareForwardInference, prepareForwardTrain, prepareStatistics, type GpuForwardArgs, type GpuStatisticsArgs } from './encode-forward';
import type { ChannelStatistics } from '../channel-statistics';
import { GpuErrorLog } from './gpu-errors';
import { dispatchCount } from './fused-small';
import { BatchNormError } from '../errors';
import { channelView } from '../layout';
import { gpuBackward } from './host-backward';
import { gpuChannelStatistics, gpuForwardInference, gpuForwardTrain } from './host-forward';
import { checkDtypeSupported, statsByteLength, statsByteOffset, type StatsBlock } from './resident-options';
import { resolveTuning, tuningForAdapter, type KernelTuning } from './tuning';
import type { ChannelView } from '../layout';
import type { AdapterSummary } from '../types';
import { Autotuner, type AutotuneOptions, type AutotuneReport, type AutotuneShape } from './autotune';
import { contextFor } from './context';
import { borrowDevice } from './device';
import type { KernelFamily } from './tuning-classes';
import { defaultTuningStore, tuningStoreKey, type TuningStore } from './tuning-store';
import { planElementwiseWork } from './elementwise-plan';
import { planReduction, type ReductionKernel } from './statistics-plan';
import { GpuNorms } from './norms/gpu-norms';

/** How an engine autotunes (see autotune.ts). */
export interface KernelsAutotuning {
  /** The adapter the results are stored under (default: the device's adapterInfo). */
  adapter?: AdapterSummary;
  /** Knobs the caller set explicitly: never tuned. */
  pinned?: Partial<KernelTuning>;
  /** Default: in memory, shared by the engines of this page or process. */
  store?: TuningStore;
  /** Tune the size class of each host-array call before running it, once (createBatchNorm's autotune). */
  onCall?: boolean;
}

/** How an engine's kernels are set up: the same for createBatchNorm and the TF.js adapter. */
export interface GpuKernelOptions {
  /** Overrides of the launch shapes, applied over the adapter's (and never autotuned). */
  tuning?: Partial<KernelTuning>;
  /** Where autotuned launch shapes are kept, and whether host-array calls tune their size class first. */
  autotune?: { store?: TuningStore; onCall?: boolean };
}

/** The kernels on `device`: the defaults, then the tuning `adapter` calls for, then `options.tuning`. */
export function createGpuKernels(device: GPUDevice, adapter: AdapterSummary | undefined, options: GpuKernelOptions = {}): GpuBatchNorm {
  const tuning = resolveTuning(options.tuning, device.limits.maxComputeInvocationsPerWorkgroup, tuningForAdapter(adapter));
  return new GpuBatchNorm(device, tuning, { adapter, pinned: options.tuning, store: options.autotune?.store, onCall: options.autotune?.onCall ?? false });
}

/**
 * The GPU-resident API: kernels recorded into a caller's command encoder on caller-owned buffers,
 * with no submit and no readback, plus the host-array operations built on the same encoders.
 * Every argument is validated before anything is encoded. GPU errors of host-array calls reject
 * the call; those of the encode… calls are kept until checkErrors().
 */
export class GpuBatchNorm {
  readonly device: GPUDevice;
  /** Layer, RMS, group and instance norm on this device (the host-array norm API's GPU path). */
  readonly norms: GpuNorms;
  private readonly context: GpuContext;
  private readonly pool: BufferPool;
  private readonly errors = new GpuErrorLog();
  private destroyed: 'disposed' | 'device-lost' | undefined;
  private readonly tuner: Autotuner;
  private readonly tuneOnCall: boolean;

  constructor(device: GPUDevice, tuning: KernelTuning, autotuning: KernelsAutotuning = {}) {
    this.device = device;
    this.context = createGpuContext(device, tuning);
    this.pool = new BufferPool(device);
    const adapter = autotuning.adapter ?? borrowDevice(device).adapter;
    this.tuner = new Autotuner(this.context, { store: autotuning.store ?? defaultTuningStore, key: tuningStoreKey(adapter), pinned: autotuning.pinned ?? {} });
    this.tuneOnCall = autotuning.onCall ?? false;
    this.norms = new GpuNorms(this.context, this.pool, () => this.checkAlive(), this.errors);
  }

  /**
   * The launch shapes in use when no size class is tuned: the defaults, then the adapter's, then the
   * caller's overrides.
   */
  get tuning(): Readonly<KernelTuning> {
    return this.context.tuning;
  }

  /** The launch shapes a call of `family` on a tensor of this shape plans with (tuned or not). */
  tuningFor(family: KernelFamily, shape: AutotuneShape): Readonly<KernelTuning> {
    return contextFor(this.context, family, channelView(shape.shape, shape.layout)).tuning;
  }

  /**
   * Times the declared candidate launch shapes of each kernel family on tensors of these shapes
   * (grouped by size class: power-of-4 byte buckets, rows or runs) with timestamp queries, keeps
   * the fastest for every later call of that class, and saves it in the store. Classes the store
   * already has are not timed again (unless `force`). Without `timestamp-query`, nothing is timed
   * and the heuristic tuning stays (report.timestamps is false).
   */
  async autotune(shapes: readonly AutotuneShape[], options: AutotuneOptions = {}): Promise<AutotuneReport> {
    this.checkAlive();
    return this.tuner.tune(shapes, options);
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

  async channelStatistics(input: TensorInput, opts: BatchNormOptions): Promise<ChannelStatistics> {
    this.checkAlive();
    const resolved = resolveOptions(opts, 'train');
    const x = checkInput('x', input, resolved.view, resolved.dtype);
    return this.channelStatisticsOf(x, resolved);
  }

  /** @internal channelStatistics on checked values (createBatchNorm's engine checked them). */
  async channelStatisticsOf(x: Float32Array, resolved: ResolvedOptions): Promise<ChannelStatistics> {
    this.checkAlive();
    checkDtypeSupported(this.device, resolved);
    await this.tuneFor('forwardTrain', resolved.view);
    planReduction(contextFor(this.context, 'forwardTrain', resolved.view), resolved.view, 'stats', resolved.dtype);
    return gpuChannelStatistics(this.context, this.pool, x, resolved);
  }

  /** Whether this device runs kernels on tensors of `dtype` (float16 needs `shader-f16`). */
  supportsDtype(dtype: 'float32' | 'float16'): boolean {
    return dtype === 'float32' || this.device.features.has('shader-f16');
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
   * buffer) is required: dy passes where y > 0 and is masked elsewhere (±0, negative, NaN). For a
   * forward with a `residual`, `dz` receives its gradient, the masked dy.
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
   * Kernel launches one encodeForwardTrain, (training) encodeBackward or encodeForwardInference of
   * this shape records. Training: 1 when the tensor is small enough for one dispatch
   * (tuning.oneDispatch), else one per slab of the reduction and of the elementwise kernel, the fold
   * of a two-level finalize, and the finalize; a call with a residual (forward) or dz (backward)
   * never takes one dispatch: say so with `residual: true`. Inference: one per slab (the fold of the
   * running statistics inside), plus the fold's own where the device or tuning.oneDispatch rules
   * that out.
   */
  dispatchCount(op: 'forwardTrain' | 'backward' | 'inference', opts: Pick<BatchNormOptions, 'shape' | 'layout' | 'dtype'> & { residual?: boolean }): number {
    this.checkAlive();
    const { view, dtype } = resolveScalarOptions({ shape: opts.shape, layout: opts.layout, dtype: opts.dtype }, op === 'inference' ? 'inference' : 'train');
    // Planned as the call would be: with the size class's autotuned launch shapes, if any.
    return dispatchCount(contextFor(this.context, op, view), view, op, opts.residual === true, dtype);
  }

  // Host-array calls: GPU errors (caught by error scopes in run(), see host-forward.ts) reject the call.
  // With dtype 'float16' the tensors are float16 host arrays, decoded when checked and rounded back
  // to float16 as they are returned (tensor-output.ts); a device without `shader-f16` refuses them
  // ('unsupported-dtype'), where createBatchNorm's engine takes the CPU path.
  forwardTrain(x: FloatInput, opts: BatchNormOptions & RunningStatistics): Promise<ForwardTrainResultWithRunning>;
  forwardTrain(x: FloatInput, opts: BatchNormOptions): Promise<ForwardTrainResult>;
  forwardTrain(x: Float16Data, opts: Float16Options<BatchNormOptions>): Promise<Float16ForwardTrainResult>;
  async forwardTrain(input: TensorInput, opts: BatchNormOptions): Promise<ForwardTrainResult | Float16ForwardTrainResult> {
    this.checkAlive();
    const resolved = resolveOptions(opts, 'train');
    const x = checkInput('x', input, resolved.view, resolved.dtype);
    return forwardTrainOutput(await this.forwardTrainOf(x, resolved), resolved.dtype, input);
  }

  /** @internal forwardTrain on checked (decoded) values; the result's tensors as float32 values. */
  async forwardTrainOf(x: Float32Array, resolved: ResolvedOptions): Promise<ForwardTrainResult> {
    this.checkAlive();
    checkDtypeSupported(this.device, resolved);
    await this.tuneFor('forwardTrain', resolved.view);
    this.checkFits(resolved, 'forwardTrain');
    return gpuForwardTrain(this.context, this.pool, x, resolved);
  }

  forwardInference(x: FloatInput, opts: BatchNormOptions): Promise<Float32Array>;
  forwardInference(x: Float16Data, opts: Float16Options<BatchNormOptions>): Promise<Float16Data>;
  async forwardInference(input: TensorInput, opts: BatchNormOptions): Promise<Float32Array | Float16Data> {
    this.checkAlive();
    const resolved = resolveOptions(opts, 'inference');
    const x = checkInput('x', input, resolved.view, resolved.dtype);
    return tensorOutput(await this.forwardInferenceOf(x, resolved), resolved.dtype, input);
  }

  /** @internal forwardInference on checked (decoded) values. */
  async forwardInferenceOf(x: Float32Array, resolved: ResolvedOptions): Promise<Float32Array> {
    this.checkAlive();
    checkDtypeSupported(this.device, resolved);
    await this.tuneFor('inference', resolved.view);
    this.checkFits(resolved, 'inference');
    return gpuForwardInference(this.context, this.pool, x, resolved);
  }

  backward(dy: FloatInput, x: FloatInput, opts: ResidualBackwardOptions, saved?: SavedForward): Promise<BackwardResultWithResidual>;
  backward(dy: FloatInput, x: FloatInput, opts: BackwardOptions, saved?: SavedForward): Promise<BackwardResult>;
  backward(dy: Float16Data, x: Float16Data, opts: Float16Options<BackwardOptions>, saved?: SavedForward): Promise<Float16BackwardResult>;
  async backward(dyInput: TensorInput, xInput: TensorInput, opts: BackwardOptions, saved?: SavedForward): Promise<BackwardResult | Float16BackwardResult> {
    this.checkAlive();
    const resolved = resolveBackwardOptions(opts);
    const dy = checkInput('dy', dyInput, resolved.view, resolved.dtype);
    const x = checkInput('x', xInput, resolved.view, resolved.dtype);
    const checked = checkSaved(saved, resolved);
    return backwardOutput(await this.backwardOf(dy, x, resolved, checked), resolved.dtype, xInput);
  }

  /** @internal backward on checked (decoded) values. */
  async backwardOf(dy: Float32Array, x: Float32Array, resolved: ResolvedBackwardOptions, checked: CheckedSaved): Promise<BackwardResult> {
    this.checkAlive();
    checkDtypeSupported(this.device, resolved);
    await this.tuneFor('backward', resolved.view);
    this.checkFits(resolved, 'backward');
    return gpuBackward(this.context, this.pool, dy, x, resolved, checked);
  }

  /** GPU buffers the engine currently owns (pool, scratch, uniforms, constants). */
  get liveBuffers(): number {
    return this.pool.liveBuffers + this.context.scratch.count + this.context.foldedScratch.count + this.context.uniforms.size + this.context.constants.count + backwardScratchCount(this.context);
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

  /** A tensor this device cannot take is refused before anything is uploaded (see slabs.ts, checkTensorFits). */
  private checkFits({ view, dtype }: ResolvedOptions, family: KernelFamily): void {
    const context = contextFor(this.context, family, view);
    planElementwiseWork(context, view, dtype);
    const reduction: ReductionKernel | undefined = family === 'forwardTrain' ? 'stats' : family === 'backward' ? 'backwardReduce' : undefined;
    if (reduction) planReduction(context, view, reduction, dtype);
  }

  /** With createBatchNorm's autotune, a call's size class is timed before its first call. */
  private async tuneFor(family: KernelFamily, view: ChannelView): Promise<void> {
    if (this.tuneOnCall) await this.tuner.ensure(family, view);
    this.checkAlive();
  }

  private checkAlive(): void {
    if (this.destroyed === 'disposed') throw new BatchNormError('disposed', 'these GPU kernels belong to a disposed engine');
    if (this.destroyed) throw new BatchNormError('device-lost', 'the device of these GPU kernels was lost; the engine continues on the CPU path (and on bn.gpu after recover())');
  }
}
