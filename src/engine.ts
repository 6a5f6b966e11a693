import { checkSaved, resolveBackwardOptions } from './backward-options';
import { cpuBackward } from './cpu/backward';
import { cpuForwardInference, cpuForwardTrain } from './cpu/forward';
import { BatchNormError } from './errors';
import type { ChannelStatistics } from './channel-statistics';
import { cpuChannelStatistics } from './cpu/channel-statistics';
import { acquireDevice, borrowDevice, type AcquiredDevice, type GpuEntry } from './gpu/device';
import { GpuBatchNorm } from './gpu/gpu-batchnorm';
import { resolveTuning, type KernelTuning } from './gpu/tuning';
import { checkInput, resolveOptions } from './options';
import type {
  AdapterSummary,
  BackendChoice,
  BackendName,
  BackwardOptions,
  BackwardResult,
  BatchNormOptions,
  ForwardTrainResult,
  SavedStatistics,
  Tolerance,
} from './types';
import { resolveVerify, verifyForwardInference, verifyForwardTrain } from './verify';
import { verifyBackward } from './verify-backward';

export interface CreateBatchNormOptions {
  /** 'auto' (default) uses WebGPU when available, else the CPU path; 'webgpu' fails without it. */
  backend?: BackendChoice;
  /** A device owned by the host application: used, never destroyed. */
  device?: GPUDevice;
  /** A `navigator.gpu`-like entry point (e.g. from a Node WebGPU binding); defaults to navigator.gpu. */
  gpu?: GpuEntry;
  /** Check every GPU result against the CPU path; true uses the default tolerance. */
  verify?: boolean | Partial<Tolerance>;
  /** Launch shapes of the kernels; the defaults rarely need changing. */
  tuning?: Partial<KernelTuning>;
}

export interface DeviceLostDetail {
  reason: string;
  message: string;
}

/**
 * The engine behind `createBatchNorm`. Host-array calls run on the GPU when it is in use and fall
 * back to the CPU path, with the same API, when WebGPU is missing or the device is lost; a
 * 'devicelost' event is dispatched once when that happens.
 */
export class BatchNorm extends EventTarget {
  private gpuEngine: GpuBatchNorm | undefined;
  private acquired: AcquiredDevice | undefined;
  private disposed = false;
  private readonly tolerance: Tolerance | undefined;

  constructor(acquired: AcquiredDevice | undefined, tuning: Partial<KernelTuning> | undefined, tolerance: Tolerance | undefined) {
    super();
    this.tolerance = tolerance;
    if (acquired) {
      this.acquired = acquired;
      const maxInvocations = acquired.device.limits.maxComputeInvocationsPerWorkgroup;
      this.gpuEngine = new GpuBatchNorm(acquired.device, resolveTuning(tuning, maxInvocations));
      void acquired.device.lost.then((info) => this.onDeviceLost(acquired, info));
    }
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

  async forwardTrain(x: Float32Array, opts: BatchNormOptions): Promise<ForwardTrainResult> {
    this.checkLive();
    const resolved = resolveOptions(opts, 'train');
    checkInput('x', x, resolved.view);
    const gpu = await this.onGpu((engine) => engine.forwardTrain(x, opts));
    if (!gpu) return cpuForwardTrain(x, resolved);
    if (this.tolerance) verifyForwardTrain(gpu, cpuForwardTrain(x, resolved), x, resolved, this.tolerance);
    return gpu;
  }

  async forwardInference(x: Float32Array, opts: BatchNormOptions): Promise<Float32Array> {
    this.checkLive();
    const resolved = resolveOptions(opts, 'inference');
    checkInput('x', x, resolved.view);
    const gpu = await this.onGpu((engine) => engine.forwardInference(x, opts));
    if (!gpu) return cpuForwardInference(x, resolved);
    if (this.tolerance) verifyForwardInference(gpu, cpuForwardInference(x, resolved), x, resolved, this.tolerance);
    return gpu;
  }

  /**
   * Gradients of batch norm: dx, dgamma = Σ dy·x̂ and dbeta = Σ dy, for the same options as the
   * forward. mode 'train' (default) differentiates through the batch statistics, which `saved`
   * supplies (the ForwardTrainResult of the forward, or any { mean, invStd }); mode 'eval' uses the
   * running statistics of `opts` as frozen constants and ignores `saved`. With activation 'relu', dy
   * is first set to 0 where the forward output y = x·scale + shift is ≤ 0. y is recomputed, not
   * stored: on the GPU from `saved` with the forward's own float32 expressions, so the mask matches
   * a GPU forward bit for bit; on the CPU path in float64 from the float32 `saved`, which can round
   * y to the other side of 0 than the forward did when |y| is within ~1e-7 of |x·scale| + |shift|
   * (relu has no derivative at 0; either side is a valid subgradient).
   */
  async backward(dy: Float32Array, x: Float32Array, opts: BackwardOptions, saved?: SavedStatistics): Promise<BackwardResult> {
    this.checkLive();
    const resolved = resolveBackwardOptions(opts);
    checkInput('dy', dy, resolved.view);
    checkInput('x', x, resolved.view);
    const stats = checkSaved(saved, resolved);
    const gpu = await this.onGpu((engine) => engine.backward(dy, x, opts, stats));
    if (!gpu) return cpuBackward(dy, x, resolved, stats);
    if (this.tolerance) verifyBackward(gpu, cpuBackward(dy, x, resolved, stats), dy, x, resolved, stats, this.tolerance);
    return gpu;
  }

  /**
   * Per-channel partial statistics (count, mean, M2) of x, for synchronized batch norm: merge the
   * parts of every shard with mergeChannelStatistics, then normalize each shard with the merged
   * mean and variance (forwardInference with them as runningMean / runningVar).
   */
  async channelStatistics(x: Float32Array, opts: BatchNormOptions): Promise<ChannelStatistics> {
    this.checkLive();
    const resolved = resolveOptions(opts, 'train');
    checkInput('x', x, resolved.view);
    const gpu = await this.onGpu((engine) => engine.channelStatistics(x, opts));
    return gpu ?? cpuChannelStatistics(x, resolved);
  }

  /** Frees every GPU resource the engine created; a borrowed device is left alive. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.gpuEngine?.destroy();
    this.gpuEngine = undefined;
    if (this.acquired?.owned) this.acquired.device.destroy();
    this.acquired = undefined;
  }

  /** Runs on the GPU when one is in use; returns undefined when the work must go to the CPU path. */
  private async onGpu<T>(work: (engine: GpuBatchNorm) => Promise<T>): Promise<T | undefined> {
    const engine = this.gpuEngine;
    if (!engine) return undefined;
    try {
      return await work(engine);
    } catch (error) {
      // A device lost during the call: the inputs are untouched host arrays, so redo it on the CPU.
      if (this.gpuEngine !== engine) return undefined;
      throw error;
    }
  }

  private onDeviceLost(acquired: AcquiredDevice, info: GPUDeviceLostInfo): void {
    if (this.acquired !== acquired) return;
    this.gpuEngine = undefined;
    this.acquired = undefined;
    if (this.disposed) return;
    const detail: DeviceLostDetail = { reason: String(info.reason), message: info.message };
    this.dispatchEvent(new CustomEvent<DeviceLostDetail>('devicelost', { detail }));
  }

  private checkLive(): void {
    if (this.disposed) throw new BatchNormError('disposed', 'this BatchNorm engine was disposed');
  }
}

function navigatorGpu(): GpuEntry | undefined {
  return (globalThis as { navigator?: { gpu?: GpuEntry } }).navigator?.gpu;
}

export async function createBatchNorm(options: CreateBatchNormOptions = {}): Promise<BatchNorm> {
  const backend = options.backend ?? 'auto';
  if (!['auto', 'webgpu', 'cpu'].includes(backend)) {
    throw new BatchNormError('invalid-option', `backend must be 'auto', 'webgpu' or 'cpu', got ${JSON.stringify(backend)}`);
  }
  const tolerance = resolveVerify(options.verify);
  if (backend === 'cpu') return new BatchNorm(undefined, undefined, tolerance);
  let acquired: AcquiredDevice | undefined;
  try {
    acquired = options.device ? borrowDevice(options.device) : await acquireDevice(options.gpu ?? navigatorGpu());
  } catch (error) {
    if (backend === 'webgpu') {
      throw error instanceof BatchNormError ? error : new BatchNormError('webgpu-unavailable', `WebGPU device creation failed: ${String(error)}`);
    }
    return new BatchNorm(undefined, undefined, tolerance);
  }
  return new BatchNorm(acquired, options.tuning, tolerance);
}
