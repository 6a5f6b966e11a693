/// <reference types="node" />
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createBatchNorm, type BatchNorm, type DeviceLostDetail } from '../engine';
import { BatchNormError } from '../errors';
import type { ChannelStatistics } from '../channel-statistics';
import type { KernelTuning } from '../gpu/tuning';
import type { JsonFileTuningStore } from './json-file-store';
import type {
  AdapterSummary,
  BackendChoice,
  BackendName,
  BackwardOptions,
  BackwardResult,
  BackwardResultWithResidual,
  ResidualBackwardOptions,
  BatchNormOptions,
  Float16BackwardResult,
  Float16Data,
  Float16ForwardTrainResult,
  Float16Options,
  FloatInput,
  ForwardTrainResult,
  ForwardTrainResultWithRunning,
  RunningStatistics,
  SavedForward,
  TensorInput,
  Tolerance,
} from '../types';
import type { FromHost, HostMethod, HostSettings, ToHost, WireError } from './protocol';

export interface NodeBatchNormOptions {
  /** 'auto' (default): the GPU when Dawn gives an adapter, else the CPU path; 'webgpu' fails without one. */
  backend?: BackendChoice;
  /** As in createBatchNorm: check every GPU result against the CPU path. */
  verify?: boolean | Partial<Tolerance>;
  /** As in createBatchNorm. */
  tuning?: Partial<KernelTuning>;
  /** As in createBatchNorm. */
  checkFinite?: boolean;
  /**
   * As in createBatchNorm, in the GPU host process: each size class is tuned before its first
   * call. The results live in the host's memory, or in a JSON file with { store:
   * jsonFileTuningStore(path) } (the only store that crosses to the host).
   */
  autotune?: boolean | { store?: JsonFileTuningStore };
  /**
   * Environment of the GPU host process, added to process.env: e.g. VK_ICD_FILENAMES and
   * LD_LIBRARY_PATH to point Dawn at a Vulkan driver (see swiftShaderEnv()).
   */
  env?: Record<string, string | undefined>;
  /** The module that provides Dawn (`create`, `globals`); default 'webgpu' (npm package `webgpu`). */
  dawnModule?: string;
  /** Flags for Dawn's create(), e.g. ['backend=vulkan']. */
  dawnFlags?: string[];
  /** How long the host may take to start and create its device, in ms (default 30 000). */
  startTimeoutMs?: number;
}

interface Pending {
  method: HostMethod;
  args: unknown[];
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** The GPU host: built next to this module as node-host.js (see vite.config.ts). */
const hostModule = './node-host.js';

function fromWire(error: WireError): Error {
  if (error.code) return new BatchNormError(error.code, error.message);
  const result = new Error(error.message);
  result.name = error.name;
  return result;
}

/**
 * Only what a view covers crosses to the host: structured clone would copy a subarray's whole
 * ArrayBuffer.
 */
function compact(value: unknown): unknown {
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const view = value as Float32Array;
    return view.byteOffset === 0 && view.byteLength === view.buffer.byteLength && !(view.buffer instanceof SharedArrayBuffer) ? view : view.slice();
  }
  if (Array.isArray(value)) return value.map(compact);
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, compact(v)]));
  }
  return value;
}

/**
 * Batch normalization for Node.js with the GPU in a separate process. The host-array API of
 * BatchNorm (forwardTrain, forwardInference, backward, channelStatistics), the same results and
 * errors; the device lives in a child process that owns Dawn, so the application's thread can be
 * as busy as it likes, and a crash of Dawn costs a fallback to the CPU path ('devicelost' event),
 * never the application. dispose() is asynchronous: it waits for the host to leave.
 *
 * The GPU-resident API (bn.gpu, BatchNormLayer, GPU optimizers) needs a GPUDevice in the calling
 * thread; for it use createBatchNorm({ gpu: create([]) }) in-process (see README, Node.js).
 */
export class NodeBatchNorm extends EventTarget {
  private host: ChildProcess | undefined;
  private hostAdapter: AdapterSummary | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private disposed = false;
  private stderrTail = '';
  private recovering: Promise<void> | undefined;

  /** @internal Use createNodeBatchNorm. */
  constructor(
    private readonly cpu: BatchNorm,
    private readonly options: NodeBatchNormOptions,
  ) {
    super();
  }

  /** 'webgpu' while the host process runs the kernels, else 'cpu'. */
  get backend(): BackendName {
    return this.host ? 'webgpu' : 'cpu';
  }

  /** The host's adapter (undefined on the CPU path). */
  get adapter(): AdapterSummary | undefined {
    return this.host ? this.hostAdapter : undefined;
  }

  /** Process id of the GPU host (undefined on the CPU path), for diagnostics. */
  get hostPid(): number | undefined {
    return this.host?.pid;
  }

  forwardTrain(x: FloatInput, opts: BatchNormOptions & RunningStatistics): Promise<ForwardTrainResultWithRunning>;
  forwardTrain(x: FloatInput, opts: BatchNormOptions): Promise<ForwardTrainResult>;
  /** dtype 'float16' (Uint16Array bits cross to the host as they are): as BatchNorm's. */
  forwardTrain(x: Float16Data, opts: Float16Options<BatchNormOptions>): Promise<Float16ForwardTrainResult>;
  forwardTrain(x: TensorInput, opts: BatchNormOptions): Promise<ForwardTrainResult | Float16ForwardTrainResult> {
    return this.run('forwardTrain', [x, opts]) as Promise<ForwardTrainResult>;
  }

  forwardInference(x: FloatInput, opts: BatchNormOptions): Promise<Float32Array>;
  forwardInference(x: Float16Data, opts: Float16Options<BatchNormOptions>): Promise<Float16Data>;
  forwardInference(x: TensorInput, opts: BatchNormOptions): Promise<Float32Array | Float16Data> {
    return this.run('forwardInference', [x, opts]) as Promise<Float32Array>;
  }

  backward(dy: FloatInput, x: FloatInput, opts: ResidualBackwardOptions, saved?: SavedForward): Promise<BackwardResultWithResidual>;
  backward(dy: FloatInput, x: FloatInput, opts: BackwardOptions, saved?: SavedForward): Promise<BackwardResult>;
  backward(dy: Float16Data, x: Float16Data, opts: Float16Options<BackwardOptions>, saved?: SavedForward): Promise<Float16BackwardResult>;
  backward(dy: TensorInput, x: TensorInput, opts: BackwardOptions, saved?: SavedForward): Promise<BackwardResult | Float16BackwardResult> {
    return this.run('backward', saved === undefined ? [dy, x, opts] : [dy, x, opts, saved]) as Promise<BackwardResult>;
  }

  channelStatistics(x: TensorInput, opts: BatchNormOptions): Promise<ChannelStatistics> {
    return this.run('channelStatistics', [x, opts]) as Promise<ChannelStatistics>;
  }

  /**
   * Starts a new GPU host after a 'devicelost' (then dispatches 'recovered'); does nothing while one
   * runs. Throws BatchNormError('webgpu-unavailable') and stays on the CPU path when none starts.
   */
  async recover(): Promise<BackendName> {
    this.checkLive();
    if (this.host) return 'webgpu';
    if (!this.recovering) {
      this.recovering = this.startHost().finally(() => (this.recovering = undefined));
      void this.recovering.then(
        () => {
          if (!this.disposed && this.host) this.dispatchEvent(new CustomEvent<AdapterSummary>('recovered', { detail: this.hostAdapter! }));
        },
        () => {},
      );
    }
    // Concurrent calls share one start.
    await this.recovering;
    if (this.disposed) {
      await this.stopHost();
      this.checkLive();
    }
    return 'webgpu';
  }

  /** Destroys the host's device and waits for the host process to exit. Calls after it throw 'disposed'. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.cpu.dispose();
    await this.stopHost();
  }

  /** @internal Starts the host and waits for its device; throws 'webgpu-unavailable' when it has none. */
  async startHost(): Promise<void> {
    const child = fork(fileURLToPath(new URL(hostModule, import.meta.url)), [], {
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: { ...process.env, ...this.options.env },
      // The application's own flags (a debugger, loaders) are not the host's business.
      execArgv: [],
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-2000);
    });
    const settings: HostSettings = {
      dawnModule: this.options.dawnModule ?? 'webgpu',
      dawnFlags: this.options.dawnFlags ?? [],
      verify: this.options.verify,
      tuning: this.options.tuning,
      checkFinite: this.options.checkFinite,
      autotune: hostAutotune(this.options.autotune),
    };
    const timeoutMs = this.options.startTimeoutMs ?? 30_000;
    let adapter: AdapterSummary;
    try {
      adapter = await new Promise<AdapterSummary>((resolve, reject) => {
        const timer = setTimeout(() => reject(new BatchNormError('webgpu-unavailable', `the GPU host did not start within ${timeoutMs} ms`)), timeoutMs);
        const done = () => {
          clearTimeout(timer);
          child.off('message', onMessage);
          child.off('exit', onExit);
          child.off('error', onError);
        };
        const onMessage = (message: FromHost) => {
          if (message.type === 'ready') {
            done();
            resolve(message.adapter);
          } else if (message.type === 'failed') {
            done();
            const error = fromWire(message.error);
            reject(error instanceof BatchNormError ? error : new BatchNormError('webgpu-unavailable', `the GPU host could not create a device: ${error.message}`));
          }
        };
        const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
          done();
          reject(new BatchNormError('webgpu-unavailable', `the GPU host exited while starting (${signal ?? `code ${code}`})${this.stderrNote()}`));
        };
        const onError = (error: Error) => {
          done();
          reject(new BatchNormError('webgpu-unavailable', `the GPU host could not be started: ${error.message}`));
        };
        child.on('message', onMessage);
        child.on('exit', onExit);
        child.on('error', onError);
        child.send({ type: 'start', settings } satisfies ToHost);
      });
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
    this.host = child;
    this.hostAdapter = adapter;
    child.on('message', (message: FromHost) => this.onMessage(child, message));
    child.on('exit', (code, signal) => this.onHostExit(child, code, signal));
    this.updateRef();
  }

  private stderrNote(): string {
    const tail = this.stderrTail.trim();
    return tail ? `; its last output: ${tail.split('\n').slice(-5).join(' | ')}` : '';
  }

  private async run(method: HostMethod, args: unknown[]): Promise<unknown> {
    this.checkLive();
    const host = this.host;
    if (!host) return this.onCpu(method, args);
    const id = this.nextId++;
    const promise = new Promise((resolve, reject) => this.pending.set(id, { method, args, resolve, reject }));
    this.updateRef();
    try {
      host.send({ type: 'call', id, method, args: args.map(compact) } satisfies ToHost);
    } catch {
      // The channel closed under us: the exit handler moves this call to the CPU.
    }
    return promise;
  }

  private onCpu(method: HostMethod, args: unknown[]): Promise<unknown> {
    const run = (this.cpu as unknown as Record<HostMethod, (...a: unknown[]) => Promise<unknown>>)[method];
    return run.apply(this.cpu, args);
  }

  private onMessage(child: ChildProcess, message: FromHost): void {
    if (child !== this.host) return;
    if (message.type === 'result' || message.type === 'error') {
      const call = this.pending.get(message.id);
      if (!call) return;
      this.pending.delete(message.id);
      this.updateRef();
      if (message.type === 'result') call.resolve(message.value);
      else call.reject(fromWire(message.error));
    } else if (message.type === 'lost') {
      this.lose(child, { reason: message.reason, message: `the GPU host lost its device: ${message.message}` });
    }
  }

  private onHostExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.host) return;
    this.lose(child, { reason: 'host-exited', message: `the GPU host process exited (${signal ?? `code ${code}`})${this.stderrNote()}` });
  }

  /** The host is gone or going: every call still waiting for it is redone here on the CPU path. */
  private lose(child: ChildProcess, detail: DeviceLostDetail): void {
    if (child !== this.host) return;
    this.host = undefined;
    this.hostAdapter = undefined;
    const waiting = [...this.pending.values()];
    this.pending.clear();
    child.kill('SIGKILL');
    if (this.disposed) {
      for (const call of waiting) call.reject(new BatchNormError('disposed', 'this BatchNorm engine was disposed during the call'));
      return;
    }
    this.dispatchEvent(new CustomEvent<DeviceLostDetail>('devicelost', { detail }));
    for (const call of waiting) this.onCpu(call.method, call.args).then(call.resolve, call.reject);
  }

  private async stopHost(): Promise<void> {
    const child = this.host;
    this.host = undefined;
    this.hostAdapter = undefined;
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const call of waiting) call.reject(new BatchNormError('disposed', 'this BatchNorm engine was disposed during the call'));
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      child.send({ type: 'dispose' } satisfies ToHost);
    } catch {
      child.kill('SIGKILL');
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }

  /**
   * The host keeps the application alive only while calls wait for it: an idle engine that was
   * never disposed lets the process end, and the host then leaves on its own (IPC disconnect).
   */
  private updateRef(): void {
    const child = this.host;
    if (!child) return;
    const busy = this.pending.size > 0;
    const handles = [child, child.channel, child.stderr] as ({ ref?(): void; unref?(): void } | null | undefined)[];
    for (const handle of handles) {
      if (busy) handle?.ref?.();
      else handle?.unref?.();
    }
  }

  private checkLive(): void {
    if (this.disposed) throw new BatchNormError('disposed', 'this BatchNorm engine was disposed');
  }
}

function hostAutotune(autotune: NodeBatchNormOptions['autotune']): HostSettings['autotune'] {
  if (autotune === undefined || autotune === false) return undefined;
  if (autotune === true) return {};
  const store = autotune?.store;
  if (autotune === null || typeof autotune !== 'object' || (store !== undefined && typeof (store as Partial<JsonFileTuningStore>)?.path !== 'string')) {
    throw new BatchNormError('invalid-option', 'createNodeBatchNorm: autotune must be a boolean or { store: jsonFileTuningStore(path) }');
  }
  return store ? { file: store.path } : {};
}

/**
 * Creates a NodeBatchNorm: starts the GPU host process (Dawn from the `webgpu` package, loaded in
 * the host, never in this process) and waits for its device. With backend 'auto' (default), a host
 * that cannot start or finds no adapter leaves the engine on the CPU path; 'webgpu' throws
 * BatchNormError('webgpu-unavailable') instead; 'cpu' starts no host.
 */
export async function createNodeBatchNorm(options: NodeBatchNormOptions = {}): Promise<NodeBatchNorm> {
  if (options === null || typeof options !== 'object') throw new BatchNormError('invalid-option', 'createNodeBatchNorm options must be an object');
  const backend = options.backend ?? 'auto';
  if (!['auto', 'webgpu', 'cpu'].includes(backend)) {
    throw new BatchNormError('invalid-option', `backend must be 'auto', 'webgpu' or 'cpu', got ${JSON.stringify(backend)}`);
  }
  // The in-process CPU engine: the CPU path, and the fallback should the host go away. Creating it
  // first also checks verify and checkFinite.
  hostAutotune(options.autotune);
  const cpu = await createBatchNorm({ backend: 'cpu', verify: options.verify, checkFinite: options.checkFinite, tuning: options.tuning });
  const engine = new NodeBatchNorm(cpu, options);
  if (backend === 'cpu') return engine;
  try {
    await engine.startHost();
  } catch (error) {
    if (backend === 'webgpu') {
      cpu.dispose();
      throw error;
    }
  }
  return engine;
}
