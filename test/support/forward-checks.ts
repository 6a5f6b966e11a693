/*
 * The checks of one forward result against the float64 reference, with the tolerances justified in
 * tolerances.ts; shared by the forward cases and the randomized differential test. Browser-safe.
 */
import { channelOf, splitShape } from './channel-index';
import { checkClose, maxErrors, toleranceUsed, type ToleranceSpec } from './compare';
import { referenceForwardInference, referenceForwardTrain, type ReferenceParams } from './reference';
import { ATOL, EPS32, LARGE_MEAN_VARIANCE_RTOL, MEAN_TERMS, VARIANCE_RTOL, Y_REL, Y_TERMS } from './tolerances';

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

/** y's tolerance: Y_TERMS·ε of the terms x·scale and shift, plus Y_REL of |y − β|, plus ATOL. */
function yTolerance(x: ArrayLike<number>, ref: Float64Array, p: ReferenceParams, scale: Float64Array, shift: Float64Array) {
  const { channels, inner } = splitShape(p.shape, p.layout);
  return (i: number) => {
    const c = channelOf(i, channels, inner);
    return Y_TERMS * EPS32 * (Math.abs(x[i] * scale[c]) + Math.abs(shift[c])) + Y_REL * Math.abs(ref[i] - (p.beta ? p.beta[c] : 0)) + ATOL;
  };
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
 * A training forward: y, mean, variance, invStd and (when tracked) the running statistics.
 * `largeMean`: the data's mean is far from 0 relative to its spread (|mean| > 100 in our cases),
 * where the variance is allowed LARGE_MEAN_VARIANCE_RTOL.
 */
export function trainChecks(x: ArrayLike<number>, p: ReferenceParams, out: TrainOutputs, path: string, largeMean: boolean): OutputCheck[] {
  const ref = referenceForwardTrain(x, p);
  const scale = ref.invStd.map((s, c) => (p.gamma ? p.gamma[c] : 1) * s);
  const shift = scale.map((s, c) => (p.beta ? p.beta[c] : 0) - ref.mean[c] * s);
  const meanTol = (c: number) => MEAN_TERMS * EPS32 * (Math.abs(ref.mean[c]) + Math.sqrt(ref.variance[c])) + ATOL;
  const varRtol = largeMean ? LARGE_MEAN_VARIANCE_RTOL : VARIANCE_RTOL;
  const checks = [
    check('y', path, out.y, ref.y, yTolerance(x, ref.y, p, scale, shift)),
    check('mean', path, out.mean, ref.mean, meanTol),
    check('variance', path, out.variance, ref.variance, { rtol: varRtol, atol: 0 }),
    check('invStd', path, out.invStd, ref.invStd, { rtol: varRtol / 2 + 4 * EPS32, atol: 0 }),
  ];
  if (ref.runningMean && ref.runningVar) {
    const rmTol = (c: number) => MEAN_TERMS * EPS32 * (Math.abs(ref.runningMean![c]) + Math.abs(ref.mean[c]) + Math.sqrt(ref.variance[c])) + ATOL;
    checks.push(check('runningMean', path, out.runningMean ?? [], ref.runningMean, rmTol));
    checks.push(check('runningVar', path, out.runningVar ?? [], ref.runningVar, { rtol: varRtol, atol: ATOL }));
  }
  return checks;
}

/** An inference forward: y with the running statistics folded in. */
export function inferenceChecks(x: ArrayLike<number>, p: ReferenceParams, y: ArrayLike<number>, path: string): OutputCheck[] {
  const ref = referenceForwardInference(x, p);
  const rm = p.runningMean!;
  const scale = Float64Array.from(p.runningVar!, (v, c) => (p.gamma ? p.gamma[c] : 1) / Math.sqrt(v + p.eps));
  const shift = scale.map((s, c) => (p.beta ? p.beta[c] : 0) - rm[c] * s);
  return [check('y', path, y, ref, yTolerance(x, ref, p, scale, shift))];
}
