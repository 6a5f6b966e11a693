import type { AutotuneReport, KernelFamily } from '../../src/index';
import type { KernelTuning } from '../../src/advanced';
/** Types shared by the runners (bench/run.ts, bench/node/bench-gpu.ts) and the measuring code (bench/page/). */
import type { StepTimingReport } from '../../demo/step-timing';
import type { Layout } from '../../src/types';
import type { AdapterDetails } from '../page/gpu-device';

/** Batch norm's ops: statistics per channel over the batch (and spatial) axes. */
export type BatchNormOp = 'forward-train' | 'backward' | 'inference' | 'forward-train-residual' | 'backward-residual';
/**
 * The rest of the normalization family (layer, RMS and group norm), forward and backward: statistics
 * per row, computed from x itself (`bn.gpu.norms.encodeForward` / `encodeBackward`).
 */
export type NormOp = 'layer-norm' | 'layer-norm-backward' | 'rms-norm' | 'rms-norm-backward' | 'group-norm' | 'group-norm-backward';
export type Op = BatchNormOp | NormOp;
export type Impl = 'webgpu' | 'cpu' | 'tfjs-webgpu' | 'tfjs-cpu' | 'copy';

/** The storage type of the tensors of a run (`--dtype`): x, y, dy, dx, z, dz; statistics stay float32. */
export type BenchDtype = 'float32' | 'float16';
export const benchDtypes: BenchDtype[] = ['float32', 'float16'];

export const batchNormOps: BatchNormOp[] = ['forward-train', 'backward', 'inference', 'forward-train-residual', 'backward-residual'];
export const normOps: NormOp[] = ['layer-norm', 'layer-norm-backward', 'rms-norm', 'rms-norm-backward', 'group-norm', 'group-norm-backward'];
export const allOps: Op[] = [...batchNormOps, ...normOps];

/** The library's norm kind of a norm op (`kind` of the resident calls), and whether it is the backward. */
export interface NormOpInfo {
  kind: 'layer' | 'rms' | 'group';
  backward: boolean;
}

/** What a norm op runs; undefined for batch norm's ops. */
export function normOf(op: Op): NormOpInfo | undefined {
  if (!(normOps as Op[]).includes(op)) return undefined;
  const kind = op.split('-')[0] as NormOpInfo['kind'];
  return { kind, backward: op.endsWith('-backward') };
}

/**
 * The op without its fused residual add (y = BN(x) + z, dz written by the backward): the residual
 * ops run the same passes with one more tensor read (forward) or written (backward). A norm op's
 * forward computes its statistics from x, as forward-train does.
 */
export function baseOp(op: Op): 'forward-train' | 'backward' | 'inference' {
  const norm = normOf(op);
  if (norm) return norm.backward ? 'backward' : 'forward-train';
  return op === 'forward-train-residual' ? 'forward-train' : op === 'backward-residual' ? 'backward' : (op as 'forward-train' | 'backward' | 'inference');
}

export function hasResidual(op: Op): boolean {
  return op === 'forward-train-residual' || op === 'backward-residual';
}

/**
 * Storage limits the bench device asks for: `adapter` requests the adapter's
 * maxStorageBufferBindingSize and maxBufferSize; `default` requests only the adapter's
 * maxBufferSize and keeps WebGPU's default maxStorageBufferBindingSize (128 MiB), so that larger
 * tensors must be bound in several parts.
 */
export type DeviceLimitsMode = 'adapter' | 'default';
export const deviceLimitsModes: DeviceLimitsMode[] = ['adapter', 'default'];

/** What the bench device was given: the mode and the resulting limits of the device. */
export interface DeviceLimits {
  requested: DeviceLimitsMode;
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
}
export const allImpls: Impl[] = ['webgpu', 'cpu', 'tfjs-webgpu', 'tfjs-cpu', 'copy'];

export interface CaseSpec {
  op: Op;
  layout: Layout;
  shape: number[];
  seed: number;
  /** Tensors' storage type (absent: float32). */
  dtype?: BenchDtype;
}

/** How much time the repetitions of one row may take (see bench/page/timing.ts). */
export interface TimingPlan {
  /** Milliseconds a batch should last (K is chosen from a single iteration). */
  targetBatchMs: number;
  maxK: number;
  minReps: number;
  maxReps: number;
  /** Time the repetitions of one row may take, roughly. */
  budgetMs: number;
  /** Host calls slower than this (after their warm-up) are repeated only `slowReps` times. */
  slowCallMs?: number;
  slowReps?: number;
  /** GPU rows: single-iteration submits after the warm-up that choose K (default 2; 1 for tensors whose one iteration takes seconds). */
  calibrationRuns?: number;
  /**
   * GPU rows: milliseconds of GPU work (the row's own variants, in turn) run before the timed
   * repetitions. A discrete GPU lowers its clocks within about a second of idling, which it does
   * while the host rows and the reference of the previous case run; short timed batches then
   * measure the ramp, not the card. Software adapters need none (0 or absent).
   */
  warmupMs?: number;
}

/** How the page prepares a case. */
export interface PrepareOptions {
  /**
   * Whether a host implementation (cpu, TF.js) runs at this size. Then the inputs also exist as
   * host arrays and the reference is the library's CPU path; else they are generated straight into
   * GPU buffers and checked against float64 values streamed from the same generator.
   */
  host: boolean;
}

/** A measured row as the page reports it; the runner adds the floor and the ratios. */
export interface MeasuredRow {
  impl: Impl;
  /** Median per-iteration milliseconds over the repetitions, and their extremes. */
  ms: number;
  msMin: number;
  msMax: number;
  /** Median per-iteration wall-clock milliseconds (equal to ms for host-timed rows). */
  wallMs: number;
  /** Iterations per batch (one submit or one synchronisation) and number of batches. */
  k: number;
  reps: number;
  timer: 'timestamp-query' | 'wall-clock';
  /** One sentence: what exactly the timed region contains. */
  timed: string;
  /** Largest |value − reference| of the main output (y or dx). */
  maxAbsErr?: number;
  /** Largest |value − reference| of every checked output, by name. */
  errors?: Record<string, number>;
  /** What the errors were measured against. */
  reference?: string;
  /** Free-form extra measurements (e.g. TF.js backward: forward and gradient times). */
  extra?: Record<string, number>;
  /** webgpu rows of forward-train, backward and the norm ops: kernel launches per call (1: one dispatch). */
  dispatches?: number;
}

export interface MissingRow {
  impl: Impl;
  reason: string;
}

export interface PageResult {
  rows: MeasuredRow[];
  missing: MissingRow[];
}

export interface PageEnvironment {
  /** Where the bench runs: the browser's user agent, or Node and Dawn's versions. */
  runtime: string;
  adapter: AdapterDetails;
  features: string[];
  limits: DeviceLimits;
  timer: 'timestamp-query' | 'wall-clock';
  /** TF.js's version where it runs (the browser page); undefined in Node. */
  tfjsVersion: string | undefined;
}

/**
 * One bench runtime as the shared run loop (bench/lib/run-bench.ts) drives it: the browser page
 * through puppeteer (bench/run.ts), or Dawn in this Node process (bench/node/bench-gpu.ts).
 */
export interface BenchDriver {
  /** The report's `browser` field, e.g. "Chromium 156.0.8078.79 (headless)" or "Node v20.20.2, Dawn (webgpu 0.6.2)". */
  readonly name: string;
  /** Where the runtime comes from, for the first line of the output (e.g. the browser's path). */
  readonly origin: string;
  init(limits: DeviceLimitsMode): Promise<PageEnvironment>;
  prepare(spec: CaseSpec, options: PrepareOptions): Promise<unknown>;
  gpu(plan: TimingPlan): Promise<PageResult>;
  cpu(plan: TimingPlan): Promise<PageResult>;
  /** TF.js on one of its backends; absent where TF.js does not run (`noTfjs` says why). */
  tfjs?: (backend: 'webgpu' | 'cpu', plan: TimingPlan) => Promise<PageResult>;
  /** Why this runtime has no TF.js rows. */
  readonly noTfjs?: string;
  /** What the report's notes should say of this runtime. */
  readonly notes?: string[];
  /** The demo model's training step on TF.js WebGPU, stock layer vs ours (needs TF.js). */
  trainingStep?: (steps: number, warmup: number) => Promise<StepTimingReport>;
  /** JavaScript µs per encode… call of the GPU-resident API on warm shapes. */
  hostMicros?: () => Promise<HostMicros>;
  /** `--tuning`: the engine's starting tuning; returns it. */
  useTuning?: (tuning: 'adapter' | 'gpu-defaults') => Promise<KernelTuning>;
  /** `--autotune`: autotunes one op's family on the run's shapes. */
  autotune?: (family: KernelFamily, shapes: { shape: number[]; layout: Layout }[]) => Promise<AutotuneReport>;
  release(): Promise<void> | void;
  close(): Promise<void>;
}

/** JavaScript microseconds per encode… call of the GPU-resident API on a warm shape (bench/page/host-cost.ts). */
export interface HostMicrosRow {
  layout: Layout;
  shape: number[];
  forwardTrain: number;
  backward: number;
  inference: number;
}

export interface HostMicros {
  rows: HostMicrosRow[];
  calls: number;
  batches: number;
  /** One sentence: what exactly is timed. */
  timed: string;
}
