import type { BatchNorm, EngineObserver } from '../engine';
import { BatchNormError } from '../errors';
import type { GpuBatchNorm } from '../gpu/gpu-batchnorm';
import { withErrorScopes } from '../gpu/gpu-errors';
import type { BatchNormLayer } from '../layer/batchnorm-layer';
import type { ResolvedLayerOptions } from '../layer/layer-options';
import type { GpuOptimizer } from '../optim/gpu-optimizer';
import type { GpuOptimizerTuning } from '../optim/tuning';
import type { CopyPlan } from '../gpu/readback';
import type { BackendName } from '../types';
import { checkParts, destroyParts } from './parts';
import { copyTrainingSnapshot, planSnapshot, type TrainingSnapshot } from './snapshot';
import { bindParams, cpuTwins, gpuTwins, type CpuParts, type GpuParts, type ParamBinding } from './twins';

export interface TrainingMirrorParts {
  layers: BatchNormLayer[];
  /** Optimizers whose parameters are all weights or biases of `layers`. */
  optimizers?: GpuOptimizer[];
}

export interface TrainingMirrorOptions {
  /**
   * Snapshots read back concurrently at most (default 4). A capture() beyond that copies nothing;
   * a later one commits a newer state instead, so the guarantee holds, with more steps to replay.
   */
  maxInFlight?: number;
}

interface PreparedSnapshot {
  step: number;
  device: GPUDevice;
  bindings: ParamBinding[][];
  plan: CopyPlan;
  decode: (bytes: ArrayBuffer) => TrainingSnapshot;
}

export interface TrainingMirrorCounts {
  captured: number;
  committed: number;
  skipped: number;
  takeovers: number;
  recoveries: number;
}

/**
 * Keeps a training run's BatchNorm state safe from device loss, at the cost of one small copy per
 * step that never stalls the GPU:
 *
 * - capture(), called after each step's submit, records a copy of every mirrored layer's γ, β,
 *   gradients and running statistics and every mirrored optimizer's state into a staging buffer
 *   (its own submit, ordered after the step's) and maps it asynchronously. When the map lands, that
 *   step is *committed*: its state is on the host, bit for bit.
 * - When the device is lost, the engine tells the mirror before its 'devicelost' event: the mirror
 *   builds CPU twins (CpuBatchNormLayer, CpuOptimizer) from the last committed snapshot and sets
 *   `step` back to it. Nothing committed is lost; steps after it were in flight on the dead device
 *   and must be replayed from `step + 1`, on `cpu`.
 * - bn.recover() rebuilds GPU layers and optimizers on the new device from the CPU twins, bit for
 *   bit, and training goes on with `gpu`.
 */
export class TrainingMirror implements EngineObserver {
  private gpuParts: GpuParts | undefined;
  private cpuParts: CpuParts | undefined;
  private committedSnapshot: TrainingSnapshot;
  private committedBindings: ParamBinding[][];
  private stepCount: number;
  private generation = 0;
  private readonly pending = new Set<Promise<void>>();
  private readonly free: GPUBuffer[] = [];
  private readonly layerOptions: ResolvedLayerOptions[];
  private readonly tunings: (GpuOptimizerTuning | undefined)[];
  private readonly unobserve: () => void;
  private readonly maxInFlight: number;
  private ownsGpuParts = false;
  private disposedFlag = false;
  private readonly tally: TrainingMirrorCounts = { captured: 0, committed: 0, skipped: 0, takeovers: 0, recoveries: 0 };

  private constructor(engine: BatchNorm, parts: GpuParts, bindings: ParamBinding[][], initial: TrainingSnapshot, maxInFlight: number) {
    this.gpuParts = parts;
    this.committedBindings = bindings;
    this.committedSnapshot = initial;
    this.stepCount = initial.step;
    this.layerOptions = parts.layers.map((l) => l.options);
    this.tunings = parts.optimizers.map((o) => o.tuning);
    this.maxInFlight = maxInFlight;
    this.unobserve = engine.observe(this);
  }

  /** Mirrors `parts` (on `engine`'s GPU); resolves once their current state is read (step 0). */
  static async create(engine: BatchNorm, parts: TrainingMirrorParts, options: TrainingMirrorOptions = {}): Promise<TrainingMirror> {
    const kernels = engine?.gpu;
    if (!kernels) throw new BatchNormError('invalid-option', 'a TrainingMirror needs an engine running on WebGPU');
    const checked = checkParts(parts, kernels);
    const maxInFlight = options?.maxInFlight ?? 4;
    if (!Number.isSafeInteger(maxInFlight) || maxInFlight < 1) throw new BatchNormError('invalid-option', `maxInFlight must be a positive integer, got ${maxInFlight}`);
    const bindings = checked.optimizers.map((o) => bindParams(checked.layers, o));
    const { plan, decode } = planSnapshot(0, checked.layers, checked.optimizers);
    const initial = await withErrorScopes(kernels.device, 'TrainingMirror.create', async () => {
      const staging = kernels.device.createBuffer({ label: 'BatchNorm.mirror.initial', size: plan.byteLength, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      try {
        const encoder = kernels.device.createCommandEncoder({ label: 'BatchNorm.mirror.initial' });
        plan.encode(encoder, staging);
        kernels.device.queue.submit([encoder.finish()]);
        await staging.mapAsync(GPUMapMode.READ);
        return decode(staging.getMappedRange().slice(0));
      } finally {
        staging.destroy();
      }
    });
    if (engine.gpu !== kernels) throw new BatchNormError('device-lost', 'the device was lost while the TrainingMirror read its initial state');
    return new TrainingMirror(engine, checked, bindings, initial, maxInFlight);
  }

  get backend(): BackendName {
    return this.gpuParts ? 'webgpu' : 'cpu';
  }

  /** The layers and optimizers to train with while on the GPU (new ones after a recovery). */
  get gpu(): GpuParts | undefined {
    return this.gpuParts;
  }

  /** Their CPU twins while the device is lost. */
  get cpu(): CpuParts | undefined {
    return this.cpuParts;
  }

  /** Steps captured in the current timeline (after a takeover: the committed step, to resume after). */
  get step(): number {
    return this.stepCount;
  }

  /** The last step whose state is safe on the host (on the CPU path: every step). */
  get committedStep(): number {
    return this.cpuParts ? this.stepCount : this.committedSnapshot.step;
  }

  get counts(): TrainingMirrorCounts {
    return { ...this.tally };
  }

  /** Bytes copied and read back per capture. */
  get snapshotBytes(): number {
    return this.gpuParts ? planSnapshot(0, this.gpuParts.layers, this.gpuParts.optimizers).plan.byteLength : 0;
  }

  /**
   * Marks the end of a training step; call it right after submitting the step (before encoding the
   * next one). On the GPU it records and submits the snapshot copy and maps it without waiting;
   * on the CPU path the twins already hold the state. Returns the step's number.
   */
  capture(): number {
    this.checkAlive();
    this.stepCount += 1;
    const step = this.stepCount;
    this.tally.captured += 1;
    if (!this.gpuParts) return step;
    if (this.pending.size >= this.maxInFlight) {
      this.tally.skipped += 1;
      return step;
    }
    void this.track(this.read(this.prepare(step, this.gpuParts)));
    return step;
  }

  private track(done: Promise<void>): Promise<void> {
    this.pending.add(done);
    void done.finally(() => this.pending.delete(done));
    return done;
  }

  /**
   * Resolves once the state after the last captured step is committed (call it between steps, as
   * capture()): waits for the snapshots in flight, then takes one if a capture was skipped. On a
   * lost device it resolves with the earlier commit standing.
   */
  async flush(): Promise<void> {
    this.checkAlive();
    while (this.pending.size > 0) await Promise.all([...this.pending]);
    if (this.gpuParts && this.committedSnapshot.step < this.stepCount) await this.track(this.read(this.prepare(this.stepCount, this.gpuParts)));
  }

  /** A copy of the last committed state (on the CPU path: the twins' current state). */
  committed(): TrainingSnapshot {
    const s = this.cpuParts ? this.cpuSnapshot(this.cpuParts) : this.committedSnapshot;
    return copyTrainingSnapshot(s);
  }

  /** Stops mirroring: frees the staging buffers, and the GPU layers and optimizers it rebuilt. */
  dispose(): void {
    if (this.disposedFlag) return;
    this.disposedFlag = true;
    this.unobserve();
    this.generation += 1;
    for (const buffer of this.free.splice(0)) buffer.destroy();
    if (this.ownsGpuParts && this.gpuParts) destroyParts(this.gpuParts);
    this.gpuParts = undefined;
    this.cpuParts = undefined;
  }

  /** @internal EngineObserver: the device is gone; continue from the last committed snapshot. */
  deviceLost(): void {
    if (!this.gpuParts) return;
    this.generation += 1;
    this.free.length = 0; // destroyed with their device
    this.gpuParts = undefined;
    this.cpuParts = cpuTwins(this.layerOptions, this.committedSnapshot, this.committedBindings);
    this.stepCount = this.committedSnapshot.step;
    this.tally.takeovers += 1;
  }

  /** @internal EngineObserver: a new device; move the CPU twins' state onto it. */
  recovered(kernels: GpuBatchNorm): void {
    if (!this.cpuParts) return;
    const cpu = this.cpuParts;
    this.gpuParts = gpuTwins(kernels, cpu, this.committedBindings, this.tunings);
    this.ownsGpuParts = true;
    // Until the first capture on the new device commits, the CPU state is the committed one.
    this.committedSnapshot = this.cpuSnapshot(cpu);
    this.cpuParts = undefined;
    this.generation += 1;
    this.tally.recoveries += 1;
  }

  /** @internal EngineObserver. */
  disposed(): void {
    this.dispose();
  }

  /**
   * What a snapshot of `step` copies, and how the parameters map between GPU and CPU then; throws
   * to capture()'s caller if an optimizer got a parameter the mirror cannot move.
   */
  private prepare(step: number, parts: GpuParts): PreparedSnapshot {
    const bindings = parts.optimizers.map((o) => bindParams(parts.layers, o));
    return { step, device: parts.layers[0].gpu.device, bindings, ...planSnapshot(step, parts.layers, parts.optimizers) };
  }

  /** One snapshot: copy (recorded and submitted now), then map and decode when the GPU is done. */
  private async read({ step, device, bindings, plan, decode }: PreparedSnapshot): Promise<void> {
    const generation = this.generation;
    let staging: GPUBuffer | undefined;
    try {
      const snapshot = await withErrorScopes(device, 'TrainingMirror.capture', async () => {
        staging = this.staging(device, plan.byteLength);
        const encoder = device.createCommandEncoder({ label: `BatchNorm.mirror.capture(${step})` });
        plan.encode(encoder, staging);
        device.queue.submit([encoder.finish()]);
        await staging.mapAsync(GPUMapMode.READ);
        const bytes = staging.getMappedRange().slice(0);
        staging.unmap();
        return decode(bytes);
      });
      if (generation !== this.generation) return;
      this.free.push(staging!);
      staging = undefined;
      if (step > this.committedSnapshot.step) {
        this.committedSnapshot = snapshot;
        this.committedBindings = bindings;
        this.tally.committed += 1;
      }
    } catch {
      // A lost device (or a GPU error): this capture never commits; the previous one stands.
    } finally {
      staging?.destroy();
    }
  }

  /** A free staging buffer of `size` bytes, or a new one (at most maxInFlight exist at once). */
  private staging(device: GPUDevice, size: number): GPUBuffer {
    const reused = this.free.pop();
    if (reused && reused.size === size) return reused;
    // The size changes only when an optimizer gets more parameters: the old buffers are of no use.
    reused?.destroy();
    for (const stale of this.free.splice(0)) stale.destroy();
    return device.createBuffer({ label: `BatchNorm.mirror.staging[${size}]`, size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  private cpuSnapshot(cpu: CpuParts): TrainingSnapshot {
    return { step: this.stepCount, layers: cpu.layers.map((l) => l.snapshot()), optimizers: cpu.optimizers.map((o) => o.exportState()) };
  }

  private checkAlive(): void {
    if (this.disposedFlag) throw new BatchNormError('disposed', 'this TrainingMirror was disposed');
  }
}

/** Mirrors on an engine: see TrainingMirror. */
export function createTrainingMirror(engine: BatchNorm, parts: TrainingMirrorParts, options?: TrainingMirrorOptions): Promise<TrainingMirror> {
  return TrainingMirror.create(engine, parts, options);
}
