import { channelOf, splitShape } from '../../support/channel-index';
import type { ReferenceParams, ReferenceTrainResult } from '../../support/reference';

/*
 * Tolerances of the CPU path against the float64 reference, element by element:
 *
 *   |cpu − ref| ≤ 2^-23·|ref| + 2^-149 + slack · magnitude
 *
 * - The CPU path computes in float64 and rounds each output once when it stores float32: at most
 *   2^-24·|v| for normal values (doubled here) and 2^-150 in the subnormal range (2^-149 covers
 *   a variance of 1e-60 that float32 can only store as 0).
 * - The two float64 computations sum in different orders and use algebraically equal but different
 *   formulas (x·scale + shift vs γ·(x − mean)·invStd + β). Recursive summation of n terms is off by at
 *   most n·2^-53 of the sum of their magnitudes, so slack = count·2^-52 times the magnitude of the
 *   terms behind the output. That term matters only where the result cancels (y near 0 with a
 *   large mean); it stays below 2^-24 of the magnitude for every size tested.
 */

export type ElementTolerance = (index: number) => number;

const STORE_RTOL = 2 ** -23;
const SUBNORMAL_ATOL = 2 ** -149;

function tolerance(expected: ArrayLike<number>, slack: number, magnitude: ElementTolerance): ElementTolerance {
  return (i) => STORE_RTOL * Math.abs(expected[i]) + SUBNORMAL_ATOL + slack * magnitude(i);
}

/** Per channel: the largest |x| and the largest |x − center|. */
function channelSpread(x: ArrayLike<number>, p: ReferenceParams, center: ArrayLike<number>) {
  const { channels, inner } = splitShape(p.shape, p.layout);
  const maxAbs = new Float64Array(channels);
  const maxDev = new Float64Array(channels);
  for (let i = 0; i < x.length; i++) {
    const c = channelOf(i, channels, inner);
    maxAbs[c] = Math.max(maxAbs[c], Math.abs(x[i]));
    maxDev[c] = Math.max(maxDev[c], Math.abs(x[i] - center[c]));
  }
  return { maxAbs, maxDev, channels, inner, slack: Math.max(x.length / channels, 8) * 2 ** -52 };
}

export interface TrainTolerances {
  y: ElementTolerance;
  mean: ElementTolerance;
  variance: ElementTolerance;
  invStd: ElementTolerance;
  runningMean: ElementTolerance;
  runningVar: ElementTolerance;
}

export function trainTolerances(x: ArrayLike<number>, p: ReferenceParams, ref: ReferenceTrainResult): TrainTolerances {
  const { maxAbs, maxDev, channels, inner, slack } = channelSpread(x, p, ref.mean);
  const gamma = (c: number) => Math.abs(p.gamma ? p.gamma[c] : 1);
  const beta = (c: number) => Math.abs(p.beta ? p.beta[c] : 0);
  // How much a relative error of the summed variance is amplified by 1/sqrt(var + eps).
  const varianceGain = (c: number) => 1 + maxDev[c] ** 2 / (ref.variance[c] + p.eps);
  const yMagnitude = (c: number) =>
    gamma(c) * ref.invStd[c] * (maxAbs[c] + Math.abs(ref.mean[c])) * varianceGain(c) + beta(c);
  // A residual z is one more float64 term of y's sum.
  const z = (i: number) => Math.abs(p.residual ? p.residual[i] : 0);
  return {
    y: tolerance(ref.y, slack, (i) => yMagnitude(channelOf(i, channels, inner)) + z(i)),
    mean: tolerance(ref.mean, slack, (c) => maxAbs[c]),
    variance: tolerance(ref.variance, slack, (c) => maxDev[c] ** 2),
    invStd: tolerance(ref.invStd, slack, (c) => ref.invStd[c] * varianceGain(c)),
    runningMean: tolerance(ref.runningMean ?? [], slack, (c) => Math.abs(p.runningMean?.[c] ?? 0) + maxAbs[c]),
    runningVar: tolerance(ref.runningVar ?? [], slack, (c) => Math.abs(p.runningVar?.[c] ?? 0) + 2 * maxDev[c] ** 2),
  };
}

export function inferenceTolerance(
  x: ArrayLike<number>,
  p: ReferenceParams,
  expected: ArrayLike<number>,
): ElementTolerance {
  const rm = p.runningMean ?? [];
  const rv = p.runningVar ?? [];
  const { maxAbs, channels, inner, slack } = channelSpread(x, p, rm);
  return tolerance(expected, slack, (i) => {
    const c = channelOf(i, channels, inner);
    const scale = Math.abs(p.gamma ? p.gamma[c] : 1) / Math.sqrt(rv[c] + p.eps);
    return scale * (maxAbs[c] + Math.abs(rm[c])) + Math.abs(p.beta ? p.beta[c] : 0) + Math.abs(p.residual ? p.residual[i] : 0);
  });
}
