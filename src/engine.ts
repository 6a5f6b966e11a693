import { checkSaved, resolveBackwardOptions, type CheckedSaved } from './backward-options';
import { cpuBackward } from './cpu/backward';
import { cpuForwardInference, cpuForwardTrain } from './cpu/forward';
import { BatchNormError } from './errors';
import type { ChannelStatistics } from './channel-statistics';
import { cpuChannelStatistics } from './cpu/moments';
import { acquireDevice, borrowDevice, type AcquiredDevice, type GpuEntry } from './gpu/device';
import type { ResolvedBackwardOptions } from './backward-options';
import type { ResolvedOptions } from './options';
import { createGpuKernels, GpuBatchNorm } from './gpu/gpu-batchnorm';
import type { TuningStore } from './gpu/tuning-store';
import type { KernelTuning } from './gpu/tuning';
import { assertFinite, type NamedArrays } from './finite';
import { checkInput, resolveOptions } from './options';
import type {
  AdapterSummary,
  BackendChoice,
  BackendName,
  BackwardOptions,
  BackwardResult,
  BackwardResultWithResidual,
  BatchNormOptions,
  FloatInput,
  ForwardTrainResult,
  ForwardTrainResultWithRunning,
  ResidualBackwardOptions,
  RunningStatistics,
  SavedForward,
  Tolerance,
} from './types';
import { backwardOutput, forwardTrainOutput, tensorOutput } from './tensor-output';
import type { Float16BackwardResult, Float16Data, Float16ForwardTrainResult, Float16Options, TensorDtype, TensorInput } from './types';
import { resolveVerify, verifyForwardInference, verifyForwardTrain } from './verify';
import { verifyBackward } from './verify-backward';
import { createNormFamily, type NormFamily } from './norms/norm-api';

export interface CreateBatchNormOptions {
  /** 'auto' (default) uses WebGPU when available, else the CPU path; 'webgpu' fails without it. */
  backend?: BackendChoice;
  /** A device owned by the host application: used, never destroyed. */
  device?: GPUDevice;
  /** A `navigator.gpu`-like entry point (e.g. from a Node WebGPU binding); defaults to navigator.gpu. */
  gpu?: GpuEntry;
  /** Check every GPU result against the CPU path; true uses the default tolerance. */
  verify?: boolean | Partial<Tolerance>;
  /** Launch shapes of the kernels; the defaults rarely need changing. Knobs set here are never autotuned. */
  tuning?: Partial<KernelTuning>;
  /**
   * Time candidate launch shapes on this device and keep the fastest (see docs/autotune.md): each
   * size class of a host-array call is tuned before its first call, and `bn.gpu.autotune(shapes)`
   * tunes ahead for the GPU-resident API. Results are kept per adapter in `store` (default: in
   * memory for this page or process). Needs `timestamp-query`; without it the heuristics stay.
   */
  autotune?: boolean | { store?: TuningStore };
  /**
   * Refuse NaN and ±Inf in host-array calls: inputs are checked before any GPU work, results before
   * they are returned, and either throws BatchNormError('non-finite'). Default false: non-finite
   * values propagate (see README, Reliability).
   */
  checkFinite?: boolean;
}

export interface DeviceLostDetail {
  reason: string;
  message: string;
}

/** What the engine keeps from createBatchNorm's options, for its whole life (recover() included). */
interface EngineSettings {
  tuning: Partial<KernelTuning> | undefined;
  autotune: { store?: TuningStore } | undefined;
  tolerance: Tolerance | undefined;
  checkFinite: boolean;
  gpu: GpuEntry | undefined;
}

/**
 * Told of device loss and recovery before the engine's events are dispatched, so that listeners
 * already see their new state (TrainingMirror switches its layers and optimizers here).
 */
export interface EngineObserver {
  deviceLost(): void;
  recovered(kernels: GpuBatchNorm): void;
  disposed(): void;
}

/**
 * The engine behind `createBatchNorm`. Host-array calls run on the GPU when it is in use and fall
 * back to the CPU path, with the same API, when WebGPU is missing or the device is lost; a
 * 'devicelost' event is dispatched once when that happens, and recover() moves back to a new
 * device ('recovered' event).
 */
export class BatchNorm extends EventTarget {
  private gpuEngine: GpuBatchNorm | undefined;
  private acquired: AcquiredDevice | undefined;
  private disposed = false;
  private readonly settings: EngineSettings;
  private readonly observers = new Set<EngineObserver>();
  private normFamily: NormFamily | undefined;

  constructor(acquired: AcquiredDevice | undefined, settings: EngineSettings) {
    super();
    this.settings = settings;
    if (acquired) this.install(acquired);
  }

  /**
   * verify's tolerance for a call: with float16 tensors the GPU stores each output rounded to either
   * float16 neighbour of its float32 value (WGSL leaves the choice open), which the CPU result does
   * not have: one float16 ulp (2^-10 relative) more, and 2^-14 absolute for flushed subnormals.
   */
  private toleranceFor(dtype: TensorDtype): Tolerance | undefined {
    const tolerance = this.settings.tolerance;
    if (!tolerance || dtype === 'float32') return tolerance;
    return { rtol: tolerance.rtol + 2 ** -10, atol: tolerance.atol + 2 ** -14 };
  }

  /** The GPU kernels for a call on tensors of `dtype`, or undefined for the CPU path (none, or no `shader-f16`). */
  private kernelsFor(dtype: TensorDtype): GpuBatchNorm | undefined {
    return this.gpuEngine?.supportsDtype(dtype) ? this.gpuEngine : undefined;
  }

  private install(acquired: AcquiredDevice): void {
    const { tuning, autotune } = this.settings;
    this.gpuEngine = createGpuKernels(acquired.device, acquired.adapter, { tuning, autotune: autotune && { store: autotune.store, onCall: true } });
    this.acquired = acquired;
    void acquired.device.lost.then((info) => this.onDeviceLost(acquired, info));
  }

  /** What is actually in use now. */
  get backend(): BackendName {
    return this.gpuEngine ? 'webgpu' : 'cpu';
  }

  /** The adapter in use (undefined on the CPU path); isFallbackAdapter is true for software ones. */
  get adapter(): AdapterSummary | undefined {
    return this.gpuEngine ? this.acquired?.adapter : undefined;
  }

  /** GPU-resident API (buffers in, buffers out, caller's encoder); undefined on the CPU path. */
  get gpu(): GpuBatchNorm | undefined {
    return this.gpuEngine;
  }

  /**
   * Layer, RMS, group and instance norm on host arrays (docs/normalization.md): forward and
   * backward, on the GPU when it has the norm kernels, else on the CPU path.
   */
  get norms(): NormFamily {
    this.normFamily ??= createNormFamily({
      checkLive: () => this.checkLive(),
      onGpu: (work) => this.onGpu('float32', (engine) => (engine.norms ? work(engine.norms) : undefined)),
      tolerance: this.settings.tolerance,
      checkFinite: this.settings.checkFinite,
    });
    return this.normFamily;
  }

  /**
   * Training-mode forward. With running statistics in `opts`, their updated copies are in the
   * result, and its type says so.
   */
  forwardTrain(x: FloatInput, opts: BatchNormOptions & RunningStatistics): Promise<ForwardTrainResultWithRunning>;
  forwardTrain(x: FloatInput, opts: BatchNormOptions): Promise<ForwardTrainResult>;
  /**
   * dtype 'float16': x (and z) float16 arrays, y returned as one of the same kind; the statistics
   * stay float32. On the CPU path (also where the GPU lacks `shader-f16`) the float16 inputs are
   * decoded, the float64/float32 math is the same, and y is rounded to float16 (nearest even).
   */
  forwardTrain(x: Float16Data, opts: Float16Options<BatchNormOptions>): Promise<Float16ForwardTrainResult>;
  async forwardTrain(input: TensorInput, opts: BatchNormOptions): Promise<ForwardTrainResult | Float16ForwardTrainResult> {
    this.checkLive();
    const resolved = resolveOptions(opts, 'train');
    const x = checkInput('x', input, resolved.view, resolved.dtype);
    const { gamma, beta, runningMean, runningVar } = resolved;
    this.checkFiniteValues('forwardTrain', 'input', { x, gamma, beta, runningMean, runningVar, residual: resolved.residual }, resolved);
    const result = await this.forwardTrainResult(x, resolved);
    const { y, mean, variance, invStd } = result;
    this.checkFiniteValues('forwardTrain', 'result', { y, mean, variance, invStd, runningMean: result.runningMean, runningVar: result.runningVar }, resolved);
    return forwardTrainOutput(result, resolved.dtype, input);
  }

  private async forwardTrainResult(x: Float32Array, resolved: ResolvedOptions): Promise<ForwardTrainResult> {
    const gpu = await this.onGpu(resolved.dtype, (engine) => engine.forwardTrainOf(x, resolved));
    if (!gpu) return cpuForwardTrain(x, resolved);
    const tolerance = this.toleranceFor(resolved.dtype);
    if (tolerance) verifyForwardTrain(gpu, cpuForwardTrain(x, resolved), x, resolved, tolerance);
    return gpu;
  }

  forwardInference(x: FloatInput, opts: BatchNormOptions): Promise<Float32Array>;
  /** dtype 'float16': as forwardTrain's. */
  forwardInference(x: Float16Data, opts: Float16Options<BatchNormOptions>): Promise<Float16Data>;
  async forwardInference(input: TensorInput, opts: BatchNormOptions): Promise<Float32Array | Float16Data> {
    this.checkLive();
    const resolved = resolveOptions(opts, 'inference');
    const x = checkInput('x', input, resolved.view, resolved.dtype);
    const { gamma, beta, runningMean, runningVar } = resolved;
    this.checkFiniteValues('forwardInference', 'input', { x, gamma, beta, runningMean, runningVar, residual: resolved.residual }, resolved);
    const y = await this.forwardInferenceResult(x, resolved);
    this.checkFiniteValues('forwardInference', 'result', { y }, resolved);
    return tensorOutput(y, resolved.dtype, input);
  }

  private async forwardInferenceResult(x: Float32Array, resolved: ResolvedOptions): Promise<Float32Array> {
    const gpu = await this.onGpu(resolved.dtype, (engine) => engine.forwardInferenceOf(x, resolved));
    if (!gpu) return cpuForwardInference(x, resolved);
    const tolerance = this.toleranceFor(resolved.dtype);
    if (tolerance) verifyForwardInference(gpu, cpuForwardInference(x, resolved), x, resolved, tolerance);
    return gpu;
  }

  /**
   * Gradients of batch norm: dx, dgamma = Σ dy·x̂ and dbeta = Σ dy, for the same options as the
   * forward. mode 'train' (default) differentiates through the batch statistics, which `saved`
   * supplies (the ForwardTrainResult of the forward, or any { mean, invStd }); mode 'eval' uses the
   * running statistics of `opts` as frozen constants. With activation 'relu', dy is first set to 0
   * where the forward's output y is not positive (±0, negative, NaN), y taken from `saved.y` (the
   * ForwardTrainResult has it; in mode 'eval' pass { y } from forwardInference): the mask is read,
   * not recomputed, so it is the forward's own on every backend.
   */
  backward(dy: FloatInput, x: FloatInput, opts: ResidualBackwardOptions, saved?: SavedForward): Promise<BackwardResultWithResidual>;
  backward(dy: FloatInput, x: FloatInput, opts: BackwardOptions, saved?: SavedForward): Promise<BackwardResult>;
  /** dtype 'float16': dy, x (and saved.y) float16 arrays; dx (and dz) returned as float16, dgamma and dbeta float32. */
  backward(dy: Float16Data, x: Float16Data, opts: Float16Options<BackwardOptions>, saved?: SavedForward): Promise<Float16BackwardResult>;
  async backward(dyInput: TensorInput, xInput: TensorInput, opts: BackwardOptions, saved?: SavedForward): Promise<BackwardResult | Float16BackwardResult> {
    this.checkLive();
    const resolved = resolveBackwardOptions(opts);
    const dy = checkInput('dy', dyInput, resolved.view, resolved.dtype);
    const x = checkInput('x', xInput, resolved.view, resolved.dtype);
    const checked = checkSaved(saved, resolved);
    const { gamma, beta, runningMean, runningVar } = resolved;
    const savedArrays = { 'saved.mean': checked.mean, 'saved.invStd': checked.invStd, 'saved.y': checked.y };
    this.checkFiniteValues('backward', 'input', { dy, x, gamma, beta, runningMean, runningVar, ...savedArrays }, resolved);
    const result = await this.backwardResult(dy, x, resolved, checked);
    this.checkFiniteValues('backward', 'result', { dx: result.dx, dgamma: result.dgamma, dbeta: result.dbeta, dz: result.dz }, resolved);
    return backwardOutput(result, resolved.dtype, xInput);
  }

  private async backwardResult(dy: Float32Array, x: Float32Array, resolved: ResolvedBackwardOptions, checked: CheckedSaved): Promise<BackwardResult> {
    const gpu = await this.onGpu(resolved.dtype, (engine) => engine.backwardOf(dy, x, resolved, checked));
    if (!gpu) return cpuBackward(dy, x, resolved, checked);
    const tolerance = this.toleranceFor(resolved.dtype);
    if (tolerance) verifyBackward(gpu, cpuBackward(dy, x, resolved, checked), dy, x, resolved, checked, tolerance);
    return gpu;
  }

  /**
   * Per-channel partial statistics (count, mean, M2) of x, for synchronized batch norm: merge the
   * parts of every shard with mergeChannelStatistics, then normalize each shard with the merged
   * mean and variance (forwardInference with them as runningMean / runningVar).
   */
  async channelStatistics(input: TensorInput, opts: BatchNormOptions): Promise<ChannelStatistics> {
    this.checkLive();
    const resolved = resolveOptions(opts, 'train');
    const x = checkInput('x', input, resolved.view, resolved.dtype);
    this.checkFiniteValues('channelStatistics', 'input', { x }, resolved);
    const gpu = await this.onGpu(resolved.dtype, (engine) => engine.channelStatisticsOf(x, resolved));
    const result = gpu ?? cpuChannelStatistics(x, resolved);
    if (this.settings.checkFinite) {
      const { mean, m2 } = result;
      this.checkFiniteValues('channelStatistics', 'result', { mean: Float32Array.from(mean), m2: Float32Array.from(m2) }, resolved);
    }
    return result;
  }

  /**
   * Moves the engine back to a GPU after device loss: a new device from the same entry point (or
   * `device`, owned by the caller), new kernels, and every TrainingMirror rebuilt on it from its
   * CPU twins; then a 'recovered' event. Does nothing while a GPU is in use. Throws
   * 'webgpu-unavailable' (and stays on the CPU path) when no device can be had.
   */
  async recover(options: { device?: GPUDevice } = {}): Promise<BackendName> {
    this.checkLive();
    if (this.gpuEngine) return 'webgpu';
    const device = options?.device;
    if (device !== undefined && (device === null || typeof device !== 'object' || typeof device.createBuffer !== 'function')) {
      throw new BatchNormError('invalid-option', 'recover({ device }) needs a GPUDevice');
    }
    let acquired: AcquiredDevice;
    try {
      acquired = device ? borrowDevice(device) : await acquireDevice(this.settings.gpu ?? navigatorGpu());
    } catch (error) {
      throw error instanceof BatchNormError ? error : new BatchNormError('webgpu-unavailable', `recover: WebGPU device creation failed: ${String(error)}`);
    }
    if (this.disposed || this.gpuEngine) {
      // Disposed, or another recover() won the race while this one waited for its device.
      if (acquired.owned) acquired.device.destroy();
      this.checkLive();
      return 'webgpu';
    }
    this.install(acquired);
    for (const observer of this.observers) observer.recovered(this.gpuEngine!);
    this.dispatchEvent(new CustomEvent<AdapterSummary>('recovered', { detail: acquired.adapter }));
    return 'webgpu';
  }

  /** Frees every GPU resource the engine created; a borrowed device is left alive. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const observer of [...this.observers]) observer.disposed();
    this.observers.clear();
    this.gpuEngine?.destroy();
    this.gpuEngine = undefined;
    if (this.acquired?.owned) this.acquired.device.destroy();
    this.acquired = undefined;
  }

  /** @internal Registers a TrainingMirror (or anything) to hear of loss and recovery first. */
  observe(observer: EngineObserver): () => void {
    this.checkLive();
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  /**
   * Runs on the GPU when one is in use and runs kernels on tensors of `dtype`; returns undefined
   * when the work must go to the CPU path: no such GPU, `work` returned undefined (the GPU lacks
   * the kernels), or the device was lost during the call.
   */
  private async onGpu<T>(dtype: TensorDtype, work: (engine: GpuBatchNorm) => Promise<T> | undefined): Promise<T | undefined> {
    const engine = this.kernelsFor(dtype);
    if (!engine) return undefined;
    try {
      return await work(engine);
    } catch (error) {
      if (this.disposed) throw new BatchNormError('disposed', 'this BatchNorm engine was disposed during the call');
      // A device lost during the call: the inputs are untouched host arrays, so redo it on the CPU.
      // The failed readback can come before device.lost resolves; give that one turn to arrive.
      if (this.gpuEngine !== engine || (await lostSoon(engine.device))) return undefined;
      throw error;
    }
  }

  private onDeviceLost(acquired: AcquiredDevice, info: GPUDeviceLostInfo): void {
    if (this.acquired !== acquired) return;
    this.gpuEngine?.destroy('device-lost');
    this.gpuEngine = undefined;
    this.acquired = undefined;
    if (this.disposed) return;
    for (const observer of this.observers) observer.deviceLost();
    const detail: DeviceLostDetail = { reason: String(info.reason), message: info.message };
    this.dispatchEvent(new CustomEvent<DeviceLostDetail>('devicelost', { detail }));
  }

  private checkFiniteValues(call: string, role: 'input' | 'result', arrays: NamedArrays, resolved: ResolvedOptions): void {
    if (this.settings.checkFinite) assertFinite(call, role, arrays, resolved.view);
  }

  private checkLive(): void {
    if (this.disposed) throw new BatchNormError('disposed', 'this BatchNorm engine was disposed');
  }
}

function navigatorGpu(): GpuEntry | undefined {
  return (globalThis as { navigator?: { gpu?: GpuEntry } }).navigator?.gpu;
}

/** Whether `device` is lost, or gets lost within one macrotask. */
function lostSoon(device: GPUDevice): Promise<boolean> {
  return Promise.race([device.lost.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 0))]);
}

function resolveAutotune(autotune: CreateBatchNormOptions['autotune']): EngineSettings['autotune'] {
  if (autotune === undefined || autotune === false) return undefined;
  if (autotune === true) return {};
  const store = autotune?.store;
  if (autotune === null || typeof autotune !== 'object' || (store !== undefined && (store === null || typeof store.load !== 'function' || typeof store.save !== 'function'))) {
    throw new BatchNormError('invalid-option', 'autotune must be a boolean or { store } with load(key) and save(key, classes)');
  }
  return { store };
}

export async function createBatchNorm(options: CreateBatchNormOptions = {}): Promise<BatchNorm> {
  if (options === null || typeof options !== 'object') throw new BatchNormError('invalid-option', 'createBatchNorm options must be an object');
  const backend = options.backend ?? 'auto';
  if (!['auto', 'webgpu', 'cpu'].includes(backend)) {
    throw new BatchNormError('invalid-option', `backend must be 'auto', 'webgpu' or 'cpu', got ${JSON.stringify(backend)}`);
  }
  if (options.checkFinite !== undefined && typeof options.checkFinite !== 'boolean') {
    throw new BatchNormError('invalid-option', `checkFinite must be a boolean, got ${JSON.stringify(options.checkFinite)}`);
  }
  const settings: EngineSettings = { tuning: options.tuning, autotune: resolveAutotune(options.autotune), tolerance: resolveVerify(options.verify), checkFinite: options.checkFinite ?? false, gpu: options.gpu };
  if (backend === 'cpu') return new BatchNorm(undefined, settings);
  let acquired: AcquiredDevice | undefined;
  try {
    acquired = options.device ? borrowDevice(options.device) : await acquireDevice(options.gpu ?? navigatorGpu());
  } catch (error) {
    if (backend === 'webgpu') {
      throw error instanceof BatchNormError ? error : new BatchNormError('webgpu-unavailable', `WebGPU device creation failed: ${String(error)}`);
    }
    return new BatchNorm(undefined, settings);
  }
  try {
    return new BatchNorm(acquired, settings);
  } catch (error) {
    // e.g. a bad tuning, which can only be checked against the device's limits.
    if (acquired.owned) acquired.device.destroy();
    throw error;
  }
}
