import { checkClose, maxErrors, type ToleranceSpec } from '../../support/compare';

/*
 * Throws the table-bearing Error of checkClose (so a failure shows the worst elements), and keeps
 * the worst errors seen per quantity so each test file can print how close it came.
 */

interface Worst {
  maxAbs: number;
  maxRel: number;
  /** Largest |a − b| / allowed: 1 would be exactly at the tolerance. */
  toleranceUsed: number;
  where: string;
}

const worstByQuantity = new Map<string, Worst>();

function toleranceUsed(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: ToleranceSpec): number {
  let used = 0;
  for (let i = 0; i < expected.length; i++) {
    const allowed = typeof tol === 'function' ? tol(i) : tol.atol + tol.rtol * Math.abs(expected[i]);
    const diff = Math.abs(actual[i] - expected[i]);
    if (diff > 0) used = Math.max(used, diff / allowed);
  }
  return used;
}

export function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: ToleranceSpec,
  quantity: string,
  where: string,
): void {
  const error = checkClose(actual, expected, tol, `${where} ${quantity}`);
  if (error) throw error;
  const { maxAbs, maxRel } = maxErrors(actual, expected);
  const used = toleranceUsed(actual, expected, tol);
  const seen = worstByQuantity.get(quantity) ?? { maxAbs: 0, maxRel: 0, toleranceUsed: 0, where };
  worstByQuantity.set(quantity, {
    maxAbs: Math.max(seen.maxAbs, maxAbs),
    maxRel: Math.max(seen.maxRel, maxRel),
    toleranceUsed: Math.max(seen.toleranceUsed, used),
    where: used > seen.toleranceUsed ? where : seen.where,
  });
}

/** One line per quantity: worst absolute and relative error and the largest share of tolerance used. */
export function reportWorstErrors(title: string): void {
  const lines = [...worstByQuantity].map(
    ([q, w]) =>
      `  ${q.padEnd(12)} maxAbs ${w.maxAbs.toExponential(2)}  maxRel ${w.maxRel.toExponential(2)}  ` +
      `tolerance used ≤ ${(100 * w.toleranceUsed).toFixed(1)}% (most in: ${w.where})`,
  );
  console.log(`${title}: worst errors vs the float64 reference\n${lines.join('\n')}`);
}
