/**
 * The element-wise bounds of the norm kernels' outputs against the float64 reference, as functions
 * of the inputs, for cases that get the kernels' results some other way than norms-case.ts does
 * (through TF.js's WebGPU backend): the derivation of test/support/norm-tolerances.ts, applied as
 * norms-case.ts applies it. Browser-safe.
 */
import type { KernelTuning } from '../../../src/advanced';
import type { NormView } from '../../../src/norms/norm-types';
import { rowsView } from '../../../src/gpu/norms/norm-launches';
import { reductionSubgroupMaxSize, workgroupSumChain } from '../../support/backward-tolerances';
import type { ReferenceNormActivation, ReferenceNormBackward, ReferenceNormForward, ReferenceNormKind } from '../../support/norm-reference';
import { CURVATURE, derivativeError, invStdError, NORM_ATOL, outputTolerance, preActivationError, rmsInvStdError, sumChain } from '../../support/norm-tolerances';
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
}

const paramOf = (view: NormView) => (i: number) => Math.floor(i / view.inner) % view.params;

/** y, mean and invStd of a forward on the GPU (the statistics kernels over rows, then the apply). */
export function gpuForwardBounds(p: NormBoundInputs, ref: ReferenceNormForward, engine: BoundEngine): { y: Bound; mean: Bound; invStd: Bound } {
  const { view, x, gamma, beta, residual, eps } = p;
  const { rows, rowLength } = view;
  const terms = gpuStatisticsTerms(rowsView(view), engine);
  const meanError = new Float64Array(rows);
  const rho = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    // The statistics kernels see every row's true mean and variance (RMS norm too).
    let sum = 0;
    for (let j = 0; j < rowLength; j++) sum += x[r * rowLength + j];
    const mu = sum / rowLength;
    let squares = 0;
    let farthest = 0;
    for (let j = 0; j < rowLength; j++) {
      const d = x[r * rowLength + j] - mu;
      squares += d * d;
      farthest = Math.max(farthest, Math.abs(d));
    }
    const variance = squares / rowLength;
    const std = Math.sqrt(variance);
    const R = std > 0 ? farthest / std : 0;
    meanError[r] = meanBound(terms, R, mu, std);
    const varianceError = varianceBound(terms, R) * variance;
    rho[r] = p.kind === 'rms' ? rmsInvStdError(mu, variance, varianceError, meanError[r], eps) : invStdError(variance, varianceError, eps);
  }
  const param = paramOf(view);
  const y = (i: number) => {
    const r = Math.floor(i / rowLength);
    const q = param(i);
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
  return { y, mean: (r) => meanError[r], invStd: (r) => rho[r] * ref.invStd[r] + NORM_ATOL * EPS32 };
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
  const param = paramOf(view);
  const smooth = p.activation !== 'none' && p.activation !== 'relu';
  const xhat = new Float64Array(size);
  const deltaXhat = new Float64Array(size);
  const deltaG = new Float64Array(size);
  const deltaH = new Float64Array(size);
  const h = new Float64Array(size);
  for (let i = 0; i < size; i++) {
    const r = Math.floor(i / rowLength);
    const q = param(i);
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
  const wg = engine.tuning.workgroupSize;
  const treeChain = workgroupSumChain(wg, reductionSubgroupMaxSize(engine));
  // A thread per row in blocks of 16 (tuning.runSegments: software adapters), or a workgroup per row.
  const rowChain = engine.tuning.runSegments ? Math.min(16, rowLength) + Math.ceil(rowLength / 16) + 1 : sumChain(rowLength, wg, treeChain);
  const A = new Float64Array(rows);
  const B = new Float64Array(rows);
  const deltaA = new Float64Array(rows);
  const deltaB = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let absH = 0;
    let absHX = 0;
    for (let j = 0; j < rowLength; j++) {
      const i = r * rowLength + j;
      A[r] += h[i];
      B[r] += h[i] * xhat[i];
      absH += Math.abs(h[i]);
      absHX += Math.abs(h[i] * xhat[i]);
      deltaA[r] += deltaH[i];
      deltaB[r] += deltaH[i] * Math.abs(xhat[i]) + Math.abs(h[i]) * deltaXhat[i] + EPS32 * Math.abs(h[i] * xhat[i]);
    }
    deltaA[r] += rowChain * EPS32 * absH;
    deltaB[r] += rowChain * EPS32 * absHX;
  }
  const centre = p.kind === 'rms' ? 0 : 1;
  const dx = (i: number) => {
    const r = Math.floor(i / rowLength);
    const D = rowLength;
    const inv = saved.invStd[r];
    return (
      inv *
        (deltaH[i] + (centre * deltaA[r]) / D + (Math.abs(xhat[i]) * deltaB[r]) / D + (deltaXhat[i] * Math.abs(B[r])) / D +
          5 * EPS32 * (Math.abs(h[i]) + (centre * Math.abs(A[r])) / D + Math.abs(xhat[i] * B[r]) / D)) +
      NORM_ATOL
    );
  };
  // A thread per parameter in blocks of 16 rows (inner == 1), or a workgroup per parameter.
  const paramChain = view.inner === 1 ? Math.min(16, view.outer) + Math.ceil(view.outer / 16) + 1 : sumChain(view.outer * view.inner, wg, treeChain);
  const dgammaError = new Float64Array(params);
  const dbetaError = new Float64Array(params);
  for (let i = 0; i < size; i++) {
    const q = param(i);
    const g = refBack.g[i];
    dgammaError[q] += deltaG[i] * Math.abs(xhat[i]) + Math.abs(g) * deltaXhat[i] + (1 + paramChain) * EPS32 * Math.abs(g * xhat[i]);
    dbetaError[q] += deltaG[i] + paramChain * EPS32 * Math.abs(g);
  }
  return {
    dx,
    dgamma: (q) => dgammaError[q] + NORM_ATOL,
    dbeta: (q) => dbetaError[q] + NORM_ATOL,
    dz: (i) => deltaG[i] + NORM_ATOL,
  };
}
