import { channelView, type ChannelView } from '../layout';

/**
 * How autotuning judges its candidates from their readings (autotune.ts runs them): how long a
 * timing batch lasts, which candidates a first run or a screening slice drops, how far behind one
 * must be to be skipped in larger classes, and how many readings count. Pure constants and
 * functions, unit-tested in Node.
 */

/**
 * Batches must last this long (ms of GPU time) for the browser's timestamp quantization (100 µs in
 * Chromium) to stay a few percent of them.
 */
const TARGET_BATCH_MS = 2;
const MAX_ITERATIONS = 64;
/** After the first run, candidates this much slower than the best are not timed again. */
const DROP_RATIO = 1.5;
/**
 * Tensors larger than twice this are screened first on a slice of about this many bytes (the same
 * channels and inner extent, fewer outer rows), and the candidates more than DROP_RATIO slower there
 * never run at full size. A launch shape that does not suit the device is as far behind on the slice
 * as on the whole (on a CPU adapter, a GPU's 256-thread workgroups took 20–35× the software
 * profile's time at 1 and at 4 MiB), and running it on the whole tensor was most of a class's
 * tuning time.
 */
export const SCREEN_BYTES = 1 << 20;
/**
 * Readings of each remaining candidate (the minimum is kept). A first run that lasted a whole batch
 * (TARGET_BATCH_MS) is one of them: it can only be slower than a warm run (pipelines still being
 * built, buffers touched for the first time), never faster, so the minimum stays a warm time, and
 * the large classes, whose calls last tens of ms on a CPU adapter, run each candidate once less.
 */
export const READINGS = 2;
/** A candidate replaces the heuristic tuning only when at least this much faster (noise margin). */
export const MIN_GAIN = 0.03;
/**
 * Candidates at least this much slower than the best in a class are not run in the larger classes of
 * the same family and walk timed after it (their pipelines are not even built). The slice
 * screening's premise across sizes, with a wide margin: on SwiftShader a GPU's launch shapes were
 * 50× or more behind in the 64 KiB 'runs' classes and far behind at every larger size, while on
 * lavapipe the profile with the fewest threads was 3.4× behind at 64 KiB and yet the fastest at 4 and
 * 16 MiB.
 */
export const CROSS_CLASS_RATIO = 5;

/**
 * From a shape's first run (ms): the calls per timed batch, enough for it to last TARGET_BATCH_MS,
 * and how many timed batches it still takes, one fewer when the first run lasted a whole batch and
 * so is one of the READINGS.
 */
export function batchAfterFirstRun(firstMs: number): { calls: number; runs: number } {
  const calls = Math.max(1, Math.min(MAX_ITERATIONS, Math.ceil(TARGET_BATCH_MS / Math.max(firstMs, 1e-3))));
  return { calls, runs: firstMs >= TARGET_BATCH_MS ? READINGS - 1 : READINGS };
}

export const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
/** Summed ms of a candidate's runs; Infinity when it did not run. */
export const total = (runs: number[] | undefined) => (runs ? sum(runs) : Infinity);

/**
 * Which candidates stay after one run each: those within DROP_RATIO of the fastest, or every one that
 * ran when even the fastest was shorter than a timing batch (TARGET_BATCH_MS): a single reading that
 * short is mostly the browser's timestamp quantization, not the kernels.
 */
export function withinReach(totals: number[]): boolean[] {
  const fastest = Math.min(...totals);
  return totals.map((t) => t !== Infinity && (fastest < TARGET_BATCH_MS || t <= DROP_RATIO * fastest));
}

/**
 * Records each candidate's time over the fastest's (in place) from one round of readings (Infinity:
 * did not run). Single readings judge only when the fastest lasted a timing batch (TARGET_BATCH_MS);
 * shorter ones are mostly the timestamp quantization. `batched` readings always judge.
 */
export function noteRatios(ratios: (number | undefined)[], readings: number[], batched: boolean): void {
  const fastest = Math.min(...readings);
  if (fastest === Infinity || (!batched && fastest < TARGET_BATCH_MS)) return;
  for (const [c, ms] of readings.entries()) if (ms !== Infinity) ratios[c] = ms / fastest;
}

/** The screening slice of a view: the same channels and inner extent, about SCREEN_BYTES of rows. */
export function screenSlice(view: ChannelView): ChannelView {
  const outer = Math.max(1, Math.min(view.outer, Math.round((view.outer * SCREEN_BYTES) / (view.size * 4))));
  return channelView([outer, view.channels, view.inner], 'NCL');
}
