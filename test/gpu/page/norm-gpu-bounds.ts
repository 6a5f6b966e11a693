/**
 * The element-wise bounds of the norm kernels' outputs against the float64 reference, as functions
 * of the inputs: the derivation of test/support/norm-tolerances.ts with the launch plan the engine
 * takes for the call (its statistics' terms; the backward's chains of additions: row-wise kernels,
 * a thread per row or column, or workgroup sums). Used by every GPU test of the norm kernels
 * (norms-case.ts, and tfjs-layer-norm-case.ts, which gets the kernels' results through TF.js).
 * Browser-safe.
 */
import type { KernelTuning } from '../../../src/advanced';
import type { NormView } from '../../../src/norms/norm-types';
import { rowsView } from '../../../src/gpu/norms/norm-launches';
import { planRowWalk, rowWiseChains } from '../../../src/gpu/norms/norm-rows';
import { bindingBytesOf } from '../../../src/gpu/slabs';
import { reductionSubgroupMaxSize, workgroupSumChain } from '../../support/backward-tolerances';
import { referenceParamOf, referenceRowMembers, referenceRowOf, type ReferenceNormActivation, type ReferenceNormBackward, type ReferenceNormForward, type ReferenceNormKind, type ReferenceNormView } from '../../support/norm-reference';
import { CURVATURE, derivativeError, invStdError, NORM_ATOL, outputTolerance, preActivationError, rmsInvStdError, stridedRowsStatisticsTerms, sumChain } from '../../support/norm-tolerances';
import { EPS32, gpuStatisticsTerms, meanBound, varianceBound } from '../../support/tolerances';

export type Bound = (index: number) => number;

/** The engine the kernels ran on: its device (limits, features) and tuning pick the launch plans. */
export interface BoundEngine {
  device: GPUDevice;
  tuning: KernelTuning;
}

export interface NormBoundInputs {
  kind: ReferenceNormKind;
  view: NormView;
  x: ArrayLike<number>;
  gamma?: ArrayLike<number>;
  beta?: ArrayLike<number>;
  residual?: ArrayLike<number>;
  eps: number;
  activation: ReferenceNormActivation;
  /** Instance norm through running statistics (the forward normalizes by them, the backward drops the row terms). */
  frozen?: boolean;
}

/** Where each element's row and parameter are (channels last too), and each row's elements. */
function indexOf(view: NormView) {
  const v: ReferenceNormView = { outer: view.outer, params: view.params, inner: view.inner, groups: view.groups, channelsLast: view.channelsLast };
  return { members: referenceRowMembers(v), rowOf: (i: number) => referenceRowOf(i, v), paramOf: (i: number) => referenceParamOf(i, v) };
}

/**
 * y, mean and invStd of a forward on the GPU (the statistics kernels over rows, then the apply),
 * and the statistics' own bounds per row (meanError, varianceError: 0 through frozen statistics,
 * which are exact inputs).
 */
export function gpuForwardBounds(
  p: NormBoundInputs,
  ref: ReferenceNormForward,
  engine: BoundEngine,
): { y: Bound; mean: Bound; invStd: Bound; meanError: Float64Array; varianceError: Float64Array } {
  const { view, x, gamma, beta, residual, eps } = p;
  const { rows, rowLength } = view;
  const { members, rowOf, paramOf } = indexOf(view);
  const meanError = new Float64Array(rows);
  const varianceError = new Float64Array(rows);
  const rho = new Float64Array(rows);
  if (p.frozen) {
    // The running statistics are exact inputs; invStd is their float64 value rounded once.
    rho.fill(EPS32);
  } else {
    const terms = view.channelsLast ? stridedRowsStatisticsTerms(view, engine) : gpuStatisticsTerms(rowsView(view), engine);
    for (let r = 0; r < rows; r++) {
      // The statistics kernels see every row's true mean and variance (RMS norm too: norm-rms.wgsl
      // derives mean(x²) from them), whatever the reference subtracts.
      let sum = 0;
      for (const i of members[r]) sum += x[i];
      const mu = sum / rowLength;
      let squares = 0;
      let farthest = 0;
      for (const i of members[r]) {
        const d = x[i] - mu;
        squares += d * d;
        farthest = Math.max(farthest, Math.abs(d));
      }
      const variance = squares / rowLength;
      const std = Math.sqrt(variance);
      const R = std > 0 ? farthest / std : 0;
      meanError[r] = meanBound(terms, R, mu, std);
      varianceError[r] = varianceBound(terms, R) * variance;
      rho[r] = p.kind === 'rms' ? rmsInvStdError(mu, variance, varianceError[r], meanError[r], eps) : invStdError(variance, varianceError[r], eps);
    }
  }
  const y = (i: number) => {
    const r = rowOf(i);
    const q = paramOf(i);
    const centred = p.kind === 'rms' ? x[i] : x[i] - ref.mean[r];
    const deltaA = preActivationError({
      gamma: gamma ? gamma[q] : 1,
      beta: beta ? beta[q] : 0,
      z: residual?.[i],
      xhat: centred * ref.invStd[r],
      invStd: ref.invStd[r],
      rho: rho[r],
      meanError: p.kind === 'rms' ? 0 : meanError[r],
    });
    return outputTolerance(p.activation, ref.preActivation[i], ref.y[i], deltaA);
  };
  return { y, mean: (r) => meanError[r], invStd: (r) => rho[r] * ref.invStd[r] + NORM_ATOL * EPS32, meanError, varianceError };
}

/** Longest chains of additions of the backward's row sums and parameter sums, for the plan the engine takes. */
function backwardChains(view: NormView, engine: BoundEngine, frozen: boolean): { row: number; param: number } {
  const { device, tuning } = engine;
  // The row-wise kernels where they apply (norm-rows.ts; never through frozen statistics).
  const walk = frozen ? undefined : planRowWalk(view, tuning, bindingBytesOf(device.limits, tuning.maxBindingBytes), device.limits.maxComputeWorkgroupsPerDimension, 'backward');
  if (walk) {
    const chains = rowWiseChains(view, walk);
    return { row: chains.row, param: chains.column };
  }
  const wg = tuning.workgroupSize;
  const treeChain = workgroupSumChain(wg, reductionSubgroupMaxSize(engine));
  const blocked = (n: number) => Math.min(16, n) + Math.ceil(n / 16) + 1;
  // Rows: a thread per row in blocks of 16 (tuning.runSegments: software adapters), or a workgroup
  // per row. Parameters: a thread per parameter in blocks of 16 (inner == 1, or channels last: a
  // column of outer·inner positions), or a workgroup per parameter.
  const row = tuning.runSegments ? blocked(view.rowLength) : sumChain(view.rowLength, wg, treeChain);
  const param = view.inner === 1 || view.channelsLast ? blocked(view.channelsLast ? view.outer * view.inner : view.outer) : sumChain(view.outer * view.inner, wg, treeChain);
  return { row, param };
}

/**
 * dx, dγ, dβ and dz of a backward on the GPU, given the statistics the forward saved (which the
 * reference `refBack` was computed with too, so only the backward kernels' roundings count).
 */
export function gpuBackwardBounds(
  p: NormBoundInputs,
  dy: ArrayLike<number>,
  saved: { mean?: ArrayLike<number>; invStd: ArrayLike<number> },
  refBack: ReferenceNormBackward,
  engine: BoundEngine,
): { dx: Bound; dgamma: Bound; dbeta: Bound; dz: Bound } {
  const { view, x, gamma, beta, residual } = p;
  const { size, rows, rowLength, params } = view;
  const { members, rowOf, paramOf } = indexOf(view);
  const frozen = p.frozen === true;
  const smooth = p.activation !== 'none' && p.activation !== 'relu';
  // Per-element errors of x̂, g, h (see norm-tolerances.ts), then the sums.
  const xhat = new Float64Array(size);
  const deltaXhat = new Float64Array(size);
  const deltaG = new Float64Array(size);
  const deltaH = new Float64Array(size);
  const h = new Float64Array(size);
  for (let i = 0; i < size; i++) {
    const r = rowOf(i);
    const q = paramOf(i);
    const g = gamma ? gamma[q] : 1;
    const b = beta ? beta[q] : 0;
    xhat[i] = (x[i] - (saved.mean ? saved.mean[r] : 0)) * saved.invStd[r];
    deltaXhat[i] = 2 * EPS32 * Math.abs(xhat[i]);
    const a = g * xhat[i] + b + (residual ? residual[i] : 0);
    const deltaA = 4 * EPS32 * (Math.abs(g * xhat[i]) + Math.abs(b) + Math.abs(residual?.[i] ?? 0));
    deltaG[i] = smooth ? Math.abs(dy[i]) * (derivativeError(p.activation, a) + CURVATURE * deltaA) + EPS32 * Math.abs(refBack.g[i]) : 0;
    h[i] = refBack.g[i] * g;
    deltaH[i] = Math.abs(g) * deltaG[i] + EPS32 * Math.abs(h[i]);
  }
  const chains = backwardChains(view, engine, frozen);
  const A = new Float64Array(rows);
  const B = new Float64Array(rows);
  const deltaA = new Float64Array(rows);
  const deltaB = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let absH = 0;
    let absHX = 0;
    for (const i of members[r]) {
      A[r] += h[i];
      B[r] += h[i] * xhat[i];
      absH += Math.abs(h[i]);
      absHX += Math.abs(h[i] * xhat[i]);
      deltaA[r] += deltaH[i];
      deltaB[r] += deltaH[i] * Math.abs(xhat[i]) + Math.abs(h[i]) * deltaXhat[i] + EPS32 * Math.abs(h[i] * xhat[i]);
    }
    deltaA[r] += chains.row * EPS32 * absH;
    deltaB[r] += chains.row * EPS32 * absHX;
  }
  const centre = p.kind === 'rms' ? 0 : 1;
  const dx = (i: number) => {
    const r = rowOf(i);
    const D = rowLength;
    const inv = saved.invStd[r];
    // Frozen statistics: dx = invStd·h, one product more than h's own error.
    if (frozen) return inv * (deltaH[i] + 2 * EPS32 * Math.abs(h[i])) + NORM_ATOL;
    return (
      inv *
        (deltaH[i] + (centre * deltaA[r]) / D + (Math.abs(xhat[i]) * deltaB[r]) / D + (deltaXhat[i] * Math.abs(B[r])) / D +
          5 * EPS32 * (Math.abs(h[i]) + (centre * Math.abs(A[r])) / D + Math.abs(xhat[i] * B[r]) / D)) +
      NORM_ATOL
    );
  };
  const dgammaError = new Float64Array(params);
  const dbetaError = new Float64Array(params);
  for (let i = 0; i < size; i++) {
    const q = paramOf(i);
    const g = refBack.g[i];
    dgammaError[q] += deltaG[i] * Math.abs(xhat[i]) + Math.abs(g) * deltaXhat[i] + (1 + chains.param) * EPS32 * Math.abs(g * xhat[i]);
    dbetaError[q] += deltaG[i] + chains.param * EPS32 * Math.abs(g);
  }
  return {
    dx,
    dgamma: (q) => dgammaError[q] + NORM_ATOL,
    dbeta: (q) => dbetaError[q] + NORM_ATOL,
    dz: (i) => deltaG[i] + NORM_ATOL,
  };
}
