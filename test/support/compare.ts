/*
 * Result checks in the style of the gpuweb CTS check_contents: pure functions that return an Error
 * describing the mismatch, or undefined when everything is within tolerance. Browser-safe.
 */

/** Either |a − b| ≤ atol + rtol·|b| for every element, or the allowed |a − b| of element i. */
export type ToleranceSpec = { atol: number; rtol: number } | ((index: number) => number);

function allowedError(tol: ToleranceSpec, index: number, expected: number): number {
  return typeof tol === 'function' ? tol(index) : tol.atol + tol.rtol * Math.abs(expected);
}

/** How far an element is out of tolerance: ≤ 1 passes; NaN and ±Inf must match exactly. */
function excess(actual: number, expected: number, allowed: number): number {
  if (Number.isNaN(expected)) return Number.isNaN(actual) ? 0 : Infinity;
  if (!Number.isFinite(expected) || !Number.isFinite(actual)) return actual === expected ? 0 : Infinity;
  const diff = Math.abs(actual - expected);
  return diff === 0 ? 0 : diff / allowed;
}

function formatRow(index: number, actual: number, expected: number, allowed: number, mark: boolean): string {
  const cells = [index, actual, expected, Math.abs(actual - expected), allowed].map((v, k) =>
    (k === 0 ? String(v) : v.toPrecision(9)).padStart(k === 0 ? 8 : 17),
  );
  return `${cells.join(' ')}${mark ? '  <-' : ''}`;
}

export function checkClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: ToleranceSpec,
  label = 'values',
): Error | undefined {
  if (actual.length !== expected.length) {
    return new Error(`${label}: length ${actual.length}, expected ${expected.length}`);
  }
  let failures = 0;
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = excess(actual[i], expected[i], allowedError(tol, i, expected[i]));
    if (!(e <= 1)) {
      failures++;
      if (worst < 0 || e > worstExcess) [worst, worstExcess] = [i, e];
    }
  }
  if (failures === 0) return undefined;
  const rows = ['   index            actual          expected          |diff|         tolerance'];
  const end = Math.min(expected.length, worst + 4);
  for (let i = Math.max(0, worst - 3); i < end; i++) {
    rows.push(formatRow(i, actual[i], expected[i], allowedError(tol, i, expected[i]), i === worst));
  }
  const summary = `${label}: ${failures} of ${expected.length} out of tolerance, worst at index ${worst}`;
  return new Error(`${summary}\n${rows.join('\n')}`);
}

/** The largest |a − b| / allowed over the elements: the share of the tolerance used (> 1 fails). */
export function toleranceUsed(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: ToleranceSpec): number {
  let used = 0;
  const n = Math.min(actual.length, expected.length);
  for (let i = 0; i < n; i++) used = Math.max(used, excess(actual[i], expected[i], allowedError(tol, i, expected[i])));
  return used;
}

export interface ErrorSummary {
  maxAbs: number;
  /** max |a − b| / |b| over elements with b ≠ 0. */
  maxRel: number;
  /** Index of maxAbs (−1 when every element matches exactly). */
  worstIndex: number;
}

/** Largest absolute and relative differences, for reporting; a NaN/Inf mismatch counts as Infinity. */
export function maxErrors(actual: ArrayLike<number>, expected: ArrayLike<number>): ErrorSummary {
  const summary: ErrorSummary = { maxAbs: 0, maxRel: 0, worstIndex: -1 };
  const n = Math.min(actual.length, expected.length);
  for (let i = 0; i < n; i++) {
    const a = actual[i];
    const b = expected[i];
    const same = a === b || (Number.isNaN(a) && Number.isNaN(b));
    const abs = same ? 0 : Number.isFinite(a - b) ? Math.abs(a - b) : Infinity;
    if (abs > summary.maxAbs) [summary.maxAbs, summary.worstIndex] = [abs, i];
    if (b !== 0 && !same) summary.maxRel = Math.max(summary.maxRel, abs / Math.abs(b));
  }
  return summary;
}
