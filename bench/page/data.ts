/** Deterministic inputs for the benchmark cases (values only matter for the error checks). */

/** The state of mulberry32 grows by this constant per draw. */
const STEP = 0x6d2b79f5;

/**
 * mulberry32: a small, fast 32-bit generator; uniform in [0, 1). Its state after n draws is
 * seed + n · STEP (mod 2^32), so `skip` starts it at draw `skip` at no cost: the values of any
 * stretch of the sequence can be regenerated without the ones before it.
 */
export function generator(seed: number, skip = 0): () => number {
  // Math.imul multiplies modulo 2^32, which is all the state keeps of skip · STEP.
  let state = (seed + Math.imul(skip, STEP)) >>> 0;
  return () => {
    state = (state + STEP) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `length` values uniform in [center − spread, center + spread). */
export function uniform(random: () => number, length: number, center: number, spread: number): Float32Array {
  return uniformInto(random, new Float32Array(length), center, spread);
}

/** Fills `out` with the values `uniform` would make (the same float32 values, in the same order). */
export function uniformInto(random: () => number, out: Float32Array, center: number, spread: number): Float32Array {
  for (let i = 0; i < out.length; i++) out[i] = center + spread * (2 * random() - 1);
  return out;
}

/** One value of `uniform`, as the float32 it is stored as. */
export function uniformValue(random: () => number, center: number, spread: number): number {
  return Math.fround(center + spread * (2 * random() - 1));
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    // NaN must show as a failure, not vanish in Math.max.
    if (!(d <= worst)) worst = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
  }
  return worst;
}
