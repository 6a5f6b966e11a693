import { referenceParamOf, referenceRowOf, type ReferenceNormForward, type ReferenceNormParams } from './norm-reference';

/*
 * How far the norm family's CPU path may be from the float64 reference (test/support/norm-reference.ts),
 * element by element:
 *
 *   |cpu − ref| ≤ 2^-24·|ref| + 2^-149 + (n + 8)·2^-52 · magnitude + activation error
 *
 * - Store: the CPU path computes in float64 and rounds each output to float32 once, at most half an
 *   ulp, 2^-24·|v| for normal values and 2^-150 in the subnormal range (2^-149 covers both ends).
 * - float64 arithmetic: both sides sum n terms (a row's D values, or a parameter's outer·inner ones)
 *   and combine them in different orders and algebraically equal forms; recursive summation of n
 *   terms errs by at most n·2^-53 of the sum of their magnitudes, doubled for two such steps in
 *   a row, +8 for the handful of products around them. `magnitude` is the size of the terms behind
 *   the output (below), so the slack matters only where the result cancels.
 * - Activation: the reference's erf is accurate to 1e-13 (its own doc), so GELU values and
 *   derivatives carry 1e-13·(|a| + 1) of the reference's error; the library's erfc is ~1e-16.
 *
 * The float32 inputs are exact on both sides; so are the saved float32 statistics a backward is
 * given (both sides get the same ones), which is why no error of the forward enters the backward's.
 */

export const STORE_RTOL = 2 ** -24;
export const SUBNORMAL_ATOL = 2 ** -149;
/** The reference's erf error (norm-reference.ts: "erf in float64 to ~1e-13"). */
export const REFERENCE_ERF_ERROR = 1e-13;
/** The largest |act'| of the fused activations (GELU's 1.129; SiLU's 1.0998). */
export const ACTIVATION_GAIN = 1.13;

export type Bound = (i: number) => number;

export function elementBound(expected: ArrayLike<number>, terms: number, magnitude: Bound, activationError: Bound = () => 0): Bound {
  const slack = (terms + 8) * 2 ** -52;
  return (i) => STORE_RTOL * Math.abs(expected[i]) + SUBNORMAL_ATOL + slack * magnitude(i) + activationError(i);
}

const paramOfView = (p: ReferenceNormParams) => (i: number) => referenceParamOf(i, p.view);
const rowOfView = (p: ReferenceNormParams) => (i: number) => referenceRowOf(i, p.view);
const rowLengthOf = (p: ReferenceNormParams) => (p.view.params / p.view.groups) * p.view.inner;

export interface ForwardBounds {
  y: Bound;
  mean: Bound;
  invStd: Bound;
}

/**
 * Forward: the mean is a sum of D values (magnitude: the row's largest |x|); the variance one of D
 * squares of deviations, whose relative error reaches invStd halved, with the gain
 * maxDev² / (var + eps); y = act(γ·(x − mean)·invStd + β + z) carries the errors of the mean
 * (·γ·invStd) and of invStd (·|γ·(x − mean)|), both within γ·invStd·(maxAbs + |mean|)·gain, plus |β| + |z|,
 * through |act'| ≤ ACTIVATION_GAIN.
 */
export function forwardBounds(x: ArrayLike<number>, p: ReferenceNormParams, ref: ReferenceNormForward): ForwardBounds {
  const D = rowLengthOf(p);
  const rows = x.length / D;
  const maxAbs = new Float64Array(rows);
  const maxDev = new Float64Array(rows);
  const rowOf = rowOfView(p);
  for (let i = 0; i < x.length; i++) {
    const r = rowOf(i);
    maxAbs[r] = Math.max(maxAbs[r], Math.abs(x[i]));
    maxDev[r] = Math.max(maxDev[r], Math.abs(x[i] - ref.mean[r]));
  }
  const gain = (r: number) => 1 + maxDev[r] ** 2 / (ref.variance[r] + p.eps);
  const paramOf = paramOfView(p);
  const yMagnitude = (i: number) => {
    const r = rowOf(i);
    const q = paramOf(i);
    const gamma = Math.abs(p.gamma ? p.gamma[q] : 1);
    const beta = Math.abs(p.beta ? p.beta[q] : 0);
    const z = Math.abs(p.residual ? p.residual[i] : 0);
    return ACTIVATION_GAIN * (gamma * ref.invStd[r] * (maxAbs[r] + Math.abs(ref.mean[r])) * gain(r) + beta + z);
  };
  const gelu = p.activation === 'gelu';
  return {
    y: elementBound(ref.y, D, yMagnitude, (i) => (gelu ? REFERENCE_ERF_ERROR * (Math.abs(ref.preActivation[i]) + 1) : 0)),
    mean: elementBound(ref.mean, D, (r) => maxAbs[r]),
    invStd: elementBound(ref.invStd, D, (r) => ref.invStd[r] * gain(r)),
  };
}

export interface BackwardBounds {
  dx: Bound;
  dgamma: Bound;
  dbeta: Bound;
  dz: Bound;
}

/**
 * Backward, for the same saved statistics on both sides: g = dy·act'(a) is one product (with the
 * reference's GELU error on |dy|); dγ and dβ sum outer·inner terms g·x̂ and g; dx = invStd·(h −
 * Σh/D − x̂·Σh·x̂/D), h = γ·g, sums of D terms whose magnitude is invStd·(|h| + Σ|h|/D + |x̂|·Σ|h·x̂|/D).
 */
export function backwardBounds(dy: ArrayLike<number>, p: ReferenceNormParams, ref: { dx: ArrayLike<number>; dgamma: ArrayLike<number>; dbeta: ArrayLike<number>; g: ArrayLike<number> }, xhat: ArrayLike<number>, invStd: ArrayLike<number>): BackwardBounds {
  const D = rowLengthOf(p);
  const rows = dy.length / D;
  const perParam = dy.length / p.view.params;
  const paramOf = paramOfView(p);
  const rowOf = rowOfView(p);
  const gelu = p.activation === 'gelu';
  const gError = (i: number) => (gelu ? REFERENCE_ERF_ERROR * 2 * Math.abs(dy[i]) : 0);
  const gAbs = (i: number) => Math.abs(ref.g[i]) + gError(i);
  const hAbs = (i: number) => gAbs(i) * Math.abs(p.gamma ? p.gamma[paramOf(i)] : 1);
  const sums = { g: new Float64Array(p.view.params), gx: new Float64Array(p.view.params), h: new Float64Array(rows), hx: new Float64Array(rows) };
  for (let i = 0; i < dy.length; i++) {
    const q = paramOf(i);
    const r = rowOf(i);
    sums.g[q] += gAbs(i);
    sums.gx[q] += gAbs(i) * Math.abs(xhat[i]);
    sums.h[r] += hAbs(i);
    sums.hx[r] += hAbs(i) * Math.abs(xhat[i]);
  }
  // The reference's GELU error in g reaches the sums too: Σ of it, relative to gAbs, is within the magnitudes.
  const dxMagnitude = (i: number) => {
    const r = rowOf(i);
    return Math.abs(invStd[r]) * (hAbs(i) + sums.h[r] / D + Math.abs(xhat[i]) * (sums.hx[r] / D));
  };
  const erfShare = (magnitude: number) => (gelu ? REFERENCE_ERF_ERROR * 2 * magnitude : 0);
  return {
    dx: elementBound(ref.dx, D, dxMagnitude, (i) => erfShare(dxMagnitude(i))),
    dgamma: elementBound(ref.dgamma, perParam, (q) => sums.gx[q], (q) => erfShare(sums.gx[q])),
    dbeta: elementBound(ref.dbeta, perParam, (q) => sums.g[q], (q) => erfShare(sums.g[q])),
    dz: elementBound(ref.g, 1, gAbs, gError),
  };
}

/** The largest |actual − expected| / bound; NaN where only one side is NaN counts as Infinity. */
export function worstShare(actual: ArrayLike<number>, expected: ArrayLike<number>, bound: Bound): { share: number; index: number } {
  let share = 0;
  let index = -1;
  for (let i = 0; i < expected.length; i++) {
    const diff = Math.abs(actual[i] - expected[i]);
    const s = diff <= bound(i) ? diff / bound(i) : Infinity;
    if (s > share) {
      share = s;
      index = i;
    }
  }
  return { share, index };
}
