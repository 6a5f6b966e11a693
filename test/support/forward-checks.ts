/*
 * The checks of one forward result against the float64 reference, with the tolerances justified in
 * tolerances.ts; shared by the forward cases and the randomized differential test. Browser-safe.
 */
import { channelOf, splitShape } from './channel-index';
import { checkClose, maxErrors, toleranceUsed, type ToleranceSpec } from './compare';
import { referenceForwardInference, referenceForwardTrain, type ReferenceParams } from './reference';
import { ATOL, EPS32, float16Output, INV_STD_TERMS, meanBound, RESIDUAL_TERMS, varianceBound, Y_TERMS, type StatisticsTerms } from './tolerances';

/** How a float16 output was rounded (F16_GPU or F16_CPU of tolerances.ts); undefined for float32 outputs. */
export type OutputRounding = { rtol: number; atol: number } | undefined;

/** y's tolerance, widened by its float16 rounding when y is float16. */
const rounded = (tol: (i: number) => number, ref: ArrayLike<number>, rounding: OutputRounding) => (rounding ? float16Output(tol, ref, rounding) : tol);

export interface OutputCheck {
  output: string;
  path: string;
  failure: string | null;
  maxAbs: number;
  maxRel: number;
  /** The largest |diff| / tolerance over the elements (> 1 fails). */
  used: number;
}

export function check(output: string, path: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tol: ToleranceSpec): OutputCheck {
  const failure = checkClose(actual, expected, tol, `${path} ${output}`);
  return { output, path, failure: failure ? failure.message : null, ...maxErrors(actual, expected), used: toleranceUsed(actual, expected, tol) };
}

/**
 * y's tolerance: Y_TERMS·ε of the terms x·scale and shift, plus the statistics' errors: a relative
 * `invStdError` of |y − β| and `meanError` (per channel) times |scale|, plus ATOL.
 *
 * With a residual, y = act(fl(fl(fma(x, scale, shift)) + z)): the add rounds once more, by at most
 * ε·|BN(x) + z| ≤ ε·(|x·scale| + |shift| + |z|) (to first order), so RESIDUAL_TERMS·ε of those; the
 * statistics' errors move only the BN part, so their relative term takes |BN(x) − β| =
 * |(x − mean)·scale| instead of |y − β|. relu is 1-Lipschitz and exact, so it adds nothing.
 */
function yTolerance(x: ArrayLike<number>, ref: ArrayLike<number>, p: ReferenceParams, scale: Float64Array, shift: Float64Array, invStdError: (c: number) => number, meanError: (c: number) => number) {
  const { channels, inner } = splitShape(p.shape, p.layout);
  const z = p.residual;
  return (i: number) => {
    const c = channelOf(i, channels, inner);
    const beta = p.beta ? p.beta[c] : 0;
    const terms = Math.abs(x[i] * scale[c]) + Math.abs(shift[c]);
    const residual = z ? RESIDUAL_TERMS * EPS32 * (terms + Math.abs(z[i])) : 0;
    const normalized = z ? Math.abs(x[i] * scale[c] + shift[c] - beta) : Math.abs(ref[i] - beta);
    return Y_TERMS * EPS32 * terms + residual + invStdError(c) * normalized + Math.abs(scale[c]) * meanError(c) + ATOL;
  };
}

/** R per channel: the farthest value from the channel's mean, in standard deviations. */
export function farthestInStd(x: ArrayLike<number>, p: ReferenceParams, mean: ArrayLike<number>, variance: ArrayLike<number>): Float64Array {
  const { channels, inner } = splitShape(p.shape, p.layout);
  const farthest = new Float64Array(channels);
  for (let i = 0; i < x.length; i++) {
    const c = channelOf(i, channels, inner);
    farthest[c] = Math.max(farthest[c], Math.abs(x[i] - mean[c]));
  }
  return farthest.map((d, c) => (variance[c] > 0 ? d / Math.sqrt(variance[c]) : 0));
}

export interface TrainOutputs {
  y: ArrayLike<number>;
  mean: ArrayLike<number>;
  variance: ArrayLike<number>;
  invStd: ArrayLike<number>;
  runningMean?: ArrayLike<number>;
  runningVar?: ArrayLike<number>;
}

/**
 * A training forward: y, mean, variance, invStd and (when tracked) the running statistics, against
 * the statistics bound of tolerances.ts for the path's `terms` (gpuStatisticsTerms for a GPU path,
 * CPU_STATISTICS_TERMS for the CPU one).
 */
export function trainChecks(x: ArrayLike<number>, p: ReferenceParams, out: TrainOutputs, path: string, terms: StatisticsTerms, rounding?: OutputRounding): OutputCheck[] {
  const ref = referenceForwardTrain(x, p);
  const scale = ref.invStd.map((s, c) => (p.gamma ? p.gamma[c] : 1) * s);
  const shift = scale.map((s, c) => (p.beta ? p.beta[c] : 0) - ref.mean[c] * s);
  const R = farthestInStd(x, p, ref.mean, ref.variance);
  const std = (c: number) => Math.sqrt(ref.variance[c]);
  const varRtol = (c: number) => varianceBound(terms, R[c]);
  const meanError = (c: number) => meanBound(terms, R[c], ref.mean[c], std(c));
  // invStd = 1 / sqrt(var + eps): half the variance's relative error (less when eps dominates).
  const invStdRtol = (c: number) => (varRtol(c) / 2) * (ref.variance[c] / (ref.variance[c] + p.eps)) + INV_STD_TERMS * EPS32;
  const checks = [
    check('y', path, out.y, ref.y, rounded(yTolerance(x, ref.y, p, scale, shift, invStdRtol, meanError), ref.y, rounding)),
    check('mean', path, out.mean, ref.mean, (c) => meanError(c) + ATOL),
    check('variance', path, out.variance, ref.variance, (c) => varRtol(c) * ref.variance[c]),
    check('invStd', path, out.invStd, ref.invStd, (c) => invStdRtol(c) * ref.invStd[c]),
  ];
  if (ref.runningMean && ref.runningVar) {
    // keep·running + take·stat: the statistic's error scaled by take ≤ 1, and a few roundings.
    const rmTol = (c: number) => meanError(c) + 4 * EPS32 * (Math.abs(ref.runningMean![c]) + Math.abs(ref.mean[c])) + ATOL;
    // Both terms of the running variance are ≥ 0, so the variance's relative error carries over.
    const rvTol = (c: number) => (varRtol(c) + 6 * EPS32) * Math.abs(ref.runningVar![c]) + ATOL;
    checks.push(check('runningMean', path, out.runningMean ?? [], ref.runningMean, rmTol));
    checks.push(check('runningVar', path, out.runningVar ?? [], ref.runningVar, rvTol));
  }
  return checks;
}

/**
 * An inference forward: y with the running statistics folded in, and, for a GPU-resident call, the
 * stats buffer it fills: [running mean | running variance | invStd | scale | shift], the first two
 * copied exactly, invStd within INV_STD_TERMS·ε relative, scale = γ·invStd one rounding more, and
 * shift = β − mean·scale: the product's error (scale's and its own rounding) times |mean·scale|,
 * and one rounding of the difference (two where the product is not contracted into an fma).
 */
export function inferenceChecks(x: ArrayLike<number>, p: ReferenceParams, y: ArrayLike<number>, path: string, rounding?: OutputRounding, stats?: ArrayLike<number>): OutputCheck[] {
  const ref = referenceForwardInference(x, p);
  const rm = p.runningMean!;
  const rv = p.runningVar!;
  const invStd = Float64Array.from(rv, (v) => 1 / Math.sqrt(v + p.eps));
  const scale = invStd.map((s, c) => (p.gamma ? p.gamma[c] : 1) * s);
  const shift = scale.map((s, c) => (p.beta ? p.beta[c] : 0) - rm[c] * s);
  // Frozen statistics: only y's own arithmetic (INV_STD_TERMS for the host's invStd of the running variance).
  const checks = [check('y', path, y, ref, rounded(yTolerance(x, ref, p, scale, shift, () => INV_STD_TERMS * EPS32, () => 0), ref, rounding))];
  if (stats) {
    const C = rm.length;
    const block = (k: number) => Array.from(stats).slice(k * C, (k + 1) * C);
    checks.push(
      check('stats mean', path, block(0), rm, () => 0),
      check('stats variance', path, block(1), rv, () => 0),
      check('stats invStd', path, block(2), invStd, (c) => INV_STD_TERMS * EPS32 * invStd[c]),
      check('stats scale', path, block(3), scale, (c) => (INV_STD_TERMS + 1) * EPS32 * Math.abs(scale[c])),
      check('stats shift', path, block(4), shift, (c) => (INV_STD_TERMS + 2) * EPS32 * Math.abs(rm[c] * scale[c]) + 2 * EPS32 * Math.abs(shift[c]) + ATOL),
    );
  }
  return checks;
}
