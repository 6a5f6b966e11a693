import { channelOf, splitShape } from './channel-index';

/*
 * Seeded random numbers for the tests. Pure arithmetic (mulberry32 + Box–Muller), so a seed replays
 * the same inputs in Node and in the browser page; no Node imports.
 */

export interface Rng {
  readonly seed: number;
  /** Uniform in [0, 1). */
  uniform(): number;
  /** Standard normal. */
  normal(): number;
}

export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  let spare: number | undefined;
  const uniform = (): number => {
    // mulberry32: 32-bit state, full period, good enough for test data.
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = (): number => {
    if (spare !== undefined) {
      const z = spare;
      spare = undefined;
      return z;
    }
    const radius = Math.sqrt(-2 * Math.log(1 - uniform())); // 1 − u lies in (0, 1]: no log(0)
    const angle = 2 * Math.PI * uniform();
    spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  };
  return { seed: seed >>> 0, uniform, normal };
}

/** TEST_SEED from the environment when set (to replay a failure), else a fresh random seed. */
export function seedFromEnv(): number {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const fromEnv = env?.TEST_SEED;
  if (fromEnv !== undefined && fromEnv !== '') {
    const seed = Number(fromEnv);
    if (!Number.isInteger(seed)) throw new Error(`TEST_SEED must be an integer, got ${fromEnv}`);
    return seed >>> 0;
  }
  return Math.floor(Math.random() * 4294967296) >>> 0;
}

/**
 * The seeds a GPU matrix runs: TEST_SEEDS="first-last" (inclusive) or "a,b,c" replays the matrix once
 * per seed in one run (the offline seed sweep, scripts/seed-sweep.mjs); otherwise [seedFromEnv()].
 */
export function seedsFromEnv(): number[] {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const list = env?.TEST_SEEDS;
  if (list === undefined || list === '') return [seedFromEnv()];
  const range = /^(\d+)-(\d+)$/.exec(list);
  const seeds = range ? Array.from({ length: Number(range[2]) - Number(range[1]) + 1 }, (_, k) => Number(range[1]) + k) : list.split(',').map(Number);
  if (seeds.length === 0 || !seeds.every((seed) => Number.isInteger(seed) && seed >= 0 && seed < 4294967296)) {
    throw new Error(`TEST_SEEDS must be "first-last" or a comma-separated list of 32-bit seeds, got ${list}`);
  }
  return seeds;
}

/** n normals with the given mean and standard deviation, rounded to float32. */
export function normals(rng: Rng, n: number, mean = 0, std = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = mean + std * rng.normal();
  return out;
}

/** n uniforms in [low, high), rounded to float32. */
export function uniforms(rng: Rng, n: number, low: number, high: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = low + (high - low) * rng.uniform();
  return out;
}

/** A tensor of the given shape and layout whose channel c is normal(means[c], stds[c]). */
export function channelNormals(
  rng: Rng,
  shape: readonly number[],
  layout: string | undefined,
  means: ArrayLike<number>,
  stds: ArrayLike<number>,
): Float32Array {
  const { outer, channels, inner } = splitShape(shape, layout);
  const out = new Float32Array(outer * channels * inner);
  for (let i = 0; i < out.length; i++) {
    const c = channelOf(i, channels, inner);
    out[i] = means[c] + stds[c] * rng.normal();
  }
  return out;
}

/** A seed for one named case, derived from the run's seed (FNV-1a over the name), so a case run
 * alone sees the same data as in the full run. */
export function caseSeed(seed: number, name: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
