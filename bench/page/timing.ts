/**
 * How every row is timed (bench/README.md, "What each row times"): warm up, then batches of K
 * iterations, median over R repetitions.
 *
 * GPU rows (webgpu, copy): K iterations are recorded into one command encoder and submitted once.
 * With `timestamp-query`, two empty compute passes bracket them and write the GPU clock at the start
 * of the first and the end of the last; the time per iteration is their difference / K. Without it,
 * the wall clock from before encoding to `onSubmittedWorkDone` is used instead. The wall time is
 * recorded in both cases (it adds encoding and submission).
 *
 * Host rows (cpu, tfjs-*): wall clock around K calls and one synchronisation (see host timing).
 */
import { GpuTimer, type EncodeWork } from '../../src/gpu/gpu-timer';
import type { TimingPlan } from '../lib/types';

export interface Samples {
  /** Per-iteration milliseconds of each repetition. */
  ms: number[];
  /** Per-iteration wall-clock milliseconds of each repetition. */
  wallMs: number[];
  k: number;
}

export interface Stats {
  ms: number;
  msMin: number;
  msMax: number;
  wallMs: number;
  k: number;
  reps: number;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function summarize(samples: Samples): Stats {
  return {
    ms: median(samples.ms),
    msMin: Math.min(...samples.ms),
    msMax: Math.max(...samples.ms),
    wallMs: median(samples.wallMs),
    k: samples.k,
    reps: samples.ms.length,
  };
}

/** Iterations per batch: enough for a batch to last `targetMs`, at most `maxK`. */
export function chooseK(singleMs: number, targetMs: number, maxK: number): number {
  return Math.max(1, Math.min(maxK, Math.round(targetMs / Math.max(singleMs, 1e-3))));
}

/** Repetitions: as many as fit `budgetMs`, within [minReps, maxReps]. */
export function chooseReps(batchMs: number, budgetMs: number, minReps: number, maxReps: number): number {
  return Math.max(minReps, Math.min(maxReps, Math.floor(budgetMs / Math.max(batchMs, 1e-3))));
}

export type Encode = EncodeWork;

// The library's own timer (autotuning times candidate launch shapes with it).
export { GpuTimer };

/** How much time the repetitions of one row may take (bench/lib/types.ts). */
export type Plan = TimingPlan;

/**
 * Times several GPU variants (e.g. the copy floor and our kernel) with their repetitions
 * interleaved, in a rotating order, so that all see the same background load on a shared machine. Each variant is
 * warmed up (pipelines built, caches filled) and calibrated with single-iteration submits first
 * (`calibrationRuns`, default 2).
 */
export async function timeGpuInterleaved(timer: GpuTimer, variants: Encode[], plan: Plan): Promise<Samples[]> {
  const ks: number[] = [];
  let roundMs = 0;
  for (const encode of variants) {
    await timer.batch(encode, 1); // warm-up: pipeline creation, first-touch of buffers
    let single = Number.POSITIVE_INFINITY;
    for (let run = 0; run < Math.max(1, plan.calibrationRuns ?? 2); run++) single = Math.min(single, (await timer.batch(encode, 1)).ms);
    const k = chooseK(single, plan.targetBatchMs, plan.maxK);
    ks.push(k);
    roundMs += k * single;
  }
  if (plan.warmupMs) await warmUpClocks(timer, variants, ks.map((k) => k * WARMUP_BATCH_FACTOR), plan.warmupMs);
  const reps = chooseReps(roundMs, plan.budgetMs, plan.minReps, plan.maxReps);
  const samples: Samples[] = ks.map((k) => ({ ms: [], wallMs: [], k }));
  for (let r = 0; r < reps; r++) {
    // Each repetition starts one variant later: a variant's position in the round (e.g. right after
    // the copy, whose writes fill the caches) showed on SwiftShader as a steady 3–6 % between two
    // identical variants timed in a fixed order.
    for (let i = 0; i < variants.length; i++) {
      const v = (i + r) % variants.length;
      const { ms, wallMs } = await timer.batch(variants[v], ks[v]);
      samples[v].ms.push(ms);
      samples[v].wallMs.push(wallMs);
    }
  }
  return samples;
}

/** Warm-up batches are this many times longer than the timed ones (fewer submits and readbacks). */
const WARMUP_BATCH_FACTOR = 4;

/**
 * Runs the variants in turn until the GPU has been busy with them for `busyMs` (by its own clock;
 * the wall clock with the fallback timer), or for three times that long by the wall clock, whichever
 * comes first: a GPU whose clocks dropped while the host was busy is back at its working clocks
 * when the timed repetitions start.
 */
async function warmUpClocks(timer: GpuTimer, variants: Encode[], ks: number[], busyMs: number): Promise<void> {
  const start = performance.now();
  let busy = 0;
  while (busy < busyMs && performance.now() - start < 3 * busyMs) {
    for (let v = 0; v < variants.length; v++) busy += (await timer.batch(variants[v], ks[v])).ms * ks[v];
  }
}

/**
 * Host-side timing, wall clock. `iteration(sync)` performs one call; with sync it also waits until
 * the result exists (for TF.js WebGPU: a read of one element of it). A batch is K calls of which
 * only the last synchronises. The first call is the warm-up.
 */
export async function timeHost(iteration: (sync: boolean) => Promise<void> | void, plan: Plan): Promise<Samples> {
  const warm = performance.now();
  await iteration(true);
  let single = performance.now() - warm;
  // A slow call (TF.js at megabytes) is calibrated by its warm-up alone, to save one call.
  if (single < SLOW_CALL_MS) {
    const t0 = performance.now();
    await iteration(true);
    single = Math.min(single, performance.now() - t0);
  }
  const k = chooseK(single, plan.targetBatchMs, plan.maxK);
  const slow = plan.slowCallMs !== undefined && single > plan.slowCallMs;
  const reps = slow ? (plan.slowReps ?? 1) : chooseReps(k * single, plan.budgetMs, plan.minReps, plan.maxReps);
  const samples: Samples = { ms: [], wallMs: [], k };
  for (let r = 0; r < reps; r++) {
    const start = performance.now();
    for (let i = 0; i < k; i++) await iteration(i === k - 1);
    const ms = (performance.now() - start) / k;
    samples.ms.push(ms);
    samples.wallMs.push(ms);
  }
  return samples;
}

/** Calls slower than this are not calibrated twice. */
const SLOW_CALL_MS = 250;
