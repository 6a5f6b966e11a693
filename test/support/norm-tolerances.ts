/*
 * Tolerances of the GPU norm checks (layer, RMS, group, instance norm), derived from float32 error
 * bounds to first order in ε = 2^-24, as tolerances.ts derives batch norm's. Browser-safe.
 *
 * Row statistics: the batch-norm statistics kernels over rows (a row is a channel of the view
 * { outer 1, channels = rows, inner = D }; channels last, a chunk of stats-runs over [N·spatial, G,
 * C/G], one workgroup per row: stridedRowsStatisticsTerms), so tolerances.ts's bound applies: per row,
 * |mean − μ| ≤ meanBound and |variance − σ²| ≤ varianceBound·σ² with that view's plan terms, R the
 * row's farthest value in standard deviations. Then
 *   layer/group/instance: invStd = 1/sqrt(var + eps): relative error ρ ≤ ½·Δvar/(σ² + eps) + INV_STD_TERMS·ε;
 *   RMS: S = var + mean² (norm-rms.wgsl), ΔS ≤ Δvar + 2|μ|·Δmean + Δmean² + 3ε·S, ρ ≤ ½·ΔS/(S + eps) + INV_STD_TERMS·ε.
 *
 * Apply (norm-apply.wgsl): x̂ = (x − mean)·invStd rounds twice, a = γ·x̂ + β (+ z) twice (three
 * times with z), so with the statistics' errors
 *   |Δa| ≤ |γ|·(|x̂|·(ρ + 3ε) + invStd·Δmean) + 2ε·(|γx̂| + |β|) (+ 2ε·(|γx̂ + β| + |z|)).
 * y = act(a): relu and the identity are exact and 1-Lipschitz; GELU (both forms) and SiLU have
 * |act'| ≤ LIPSCHITZ, and their float32 evaluation errs by actError (norm-activation.wgsl states
 * the forms): GELU-erf by ½|a|·ERF_ERROR (erf's absolute error) + ½|a|·(2/√π)·ε|a|/√2 (the rounding
 * of a/√2) + 3ε|a|; the sigmoid forms a·σ(t) by a relative ε·(10 + 10|t|) (exp: 3 + 2|t| ULP = 2ε
 * each, t's own roundings ≤ 6ε|t| moving σ by ≤ (1 − σ)·6ε|t|, the add and divide), |t| capped at
 * 80 (beyond, both sides are below 2e-35·|a|).
 *
 * Backward (norm-gradient.wgsl and the three backward kernels), with the saved statistics as the
 * reference's too, so only the kernels' own roundings count:
 *   Δx̂ ≤ 2ε|x̂|,  Δa ≤ 4ε(|γx̂| + |β| + |z|),
 *   Δg ≤ |dy|·(derivativeError(a) + CURVATURE·Δa) + ε|g|   (none and relu: g = dy or 0, exact),
 *   Δh ≤ |γ|·Δg + ε|h|,
 *   a sum of n terms over a chain of c additions (a thread's strided terms, then the workgroup sum,
 *   +1 for the product): ≤ Σ Δterm + c·ε·Σ|term|,
 *   dx = invStd·(h − A/D − x̂·B/D): Δdx ≤ invStd·(Δh + ΔA/D + |x̂|·ΔB/D + Δx̂·|B|/D + 5ε(|h| + |A|/D + |x̂B|/D)),
 *   dγ = Σ g·x̂, dβ = Σ g, dz = g.
 */
import type { NormView } from '../../src/norms/norm-types';
import type { KernelTuning } from '../../src/gpu/tuning';
import { reductionSubgroupMaxSize, workgroupSumChain } from './backward-tolerances';
import type { ReferenceNormActivation } from './norm-reference';
import { EPS32, INV_STD_TERMS, type StatisticsTerms } from './tolerances';

/**
 * Absolute error of norm-activation.wgsl's erfApprox: A&S 7.1.26's 1.5e-7, plus its float32
 * evaluation (≤ 7ε with an exactly rounded exp, ≤ 6ε more from WGSL's exp; the shader states how
 * that was found), rounded up to 32ε.
 */
export const ERF_ERROR = 1.5e-7 + 32 * EPS32;
/** max |act'| over GELU (1.1289), GELU-tanh (1.1289…) and SiLU (1.0998). */
export const LIPSCHITZ = 1.13;
/** max |act''|: GELU's 2φ(0) = 0.798, GELU-tanh's ≈ 0.80, SiLU's 0.5. */
export const CURVATURE = 0.81;
/** Floor of every tolerance, as batch norm's ATOL (values near 0 after cancellation). */
export const NORM_ATOL = 1e-6;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const EXP_CAP = 80;

/** t of the sigmoid form a·σ(t) (gelu-tanh: 2√(2/π)(a + 0.044715a³); silu: a). */
function sigmoidArgument(activation: ReferenceNormActivation, a: number): number {
  return activation === 'gelu-tanh' ? 2 * SQRT_2_OVER_PI * (a + 0.044715 * a * a * a) : a;
}

/** The float32 evaluation error of act at a (y = act(a) in float64). */
export function activationError(activation: ReferenceNormActivation, a: number, y: number): number {
  switch (activation) {
    case 'none':
    case 'relu':
      return 0;
    case 'gelu':
      return 0.5 * Math.abs(a) * ERF_ERROR + 0.4 * EPS32 * a * a + 3 * EPS32 * Math.abs(a);
    case 'gelu-tanh':
    case 'silu': {
      const t = Math.abs(sigmoidArgument(activation, a));
      return Math.abs(y) * EPS32 * (10 + 10 * Math.min(t, EXP_CAP)) + 2e-35 * Math.abs(a);
    }
  }
}

/** The float32 evaluation error of act' at a (norm-activation.wgsl, normActivationDerivative). */
export function derivativeError(activation: ReferenceNormActivation, a: number): number {
  switch (activation) {
    case 'none':
    case 'relu':
      return 0;
    case 'gelu': {
      // ½(1 + erf(a/√2)) + a·exp(−a²/2)/√(2π): erf's error halved, exp's 3 + a² ULP, the roundings.
      const density = Math.abs(a) * Math.exp(-0.5 * a * a) / Math.sqrt(2 * Math.PI);
      return 0.5 * (ERF_ERROR + 0.8 * EPS32 * Math.abs(a)) + density * EPS32 * (12 + 2 * a * a) + 4 * EPS32;
    }
    case 'gelu-tanh':
    case 'silu': {
      // σ + a·σ(1 − σ)·t': σ and 1 − σ = e·σ each within ε(10 + 10|t|), the product term 3 of them
      // and t' (6ε), the sum.
      const t = sigmoidArgument(activation, a);
      const s = 1 / (1 + Math.exp(-t));
      const slope = activation === 'gelu-tanh' ? (Math.abs(a) <= 20 ? 2 * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * a * a) : 0) : 1;
      const product = Math.abs(a * s * (1 - s) * slope);
      const relative = EPS32 * (10 + 10 * Math.min(Math.abs(t), EXP_CAP));
      return s * relative + product * (3 * relative + 8 * EPS32) + 2 * EPS32 + 2e-35;
    }
  }
}

/** Relative error of a row's invStd (layer, group, instance norm). */
export function invStdError(variance: number, varianceError: number, eps: number): number {
  return (0.5 * varianceError) / (variance + eps) + INV_STD_TERMS * EPS32;
}

/** Relative error of RMS norm's invStd = 1/sqrt(var + mean² + eps). */
export function rmsInvStdError(mean: number, variance: number, varianceError: number, meanError: number, eps: number): number {
  const S = variance + mean * mean;
  const deltaS = varianceError + 2 * Math.abs(mean) * meanError + meanError * meanError + 3 * EPS32 * S;
  return (0.5 * deltaS) / (S + eps) + INV_STD_TERMS * EPS32;
}

/** |Δa| of the apply for one element (see above). */
export function preActivationError(args: { gamma: number; beta: number; z: number | undefined; xhat: number; invStd: number; rho: number; meanError: number }): number {
  const { gamma, beta, z, xhat, invStd, rho, meanError } = args;
  const scaled = Math.abs(gamma * xhat);
  const own = Math.abs(gamma) * (Math.abs(xhat) * (rho + 3 * EPS32) + invStd * meanError) + 2 * EPS32 * (scaled + Math.abs(beta));
  return z === undefined ? own : own + 2 * EPS32 * (Math.abs(gamma * xhat + beta) + Math.abs(z));
}

/** y's tolerance at one element: act's Lipschitz bound on Δa, its own evaluation error, the floor. */
export function outputTolerance(activation: ReferenceNormActivation, a: number, y: number, deltaA: number): number {
  const lipschitz = activation === 'none' || activation === 'relu' ? 1 : LIPSCHITZ;
  return lipschitz * deltaA + activationError(activation, a, y) + NORM_ATOL;
}

/** Additions from one term to a workgroup-per-row (or per-parameter) sum of n terms (+1: the product). */
export function sumChain(n: number, workgroupSize: number, workgroupSumChain: number): number {
  return Math.ceil(n / workgroupSize) + workgroupSumChain + 1;
}

/**
 * tolerances.ts's plan terms (L, P, Q) for the statistics of a channels-last view
 * (norm-launches.ts, stridedRowsReduction): one 'Runs' chunk per row, read by one workgroup whose
 * threads each take ⌈chunk / workgroup⌉ units in blocks of 16 values and merge them in a chain of
 * J blocks (κ = J + 8, running-mean error J + 6, as tolerances.ts's threadChain), then the
 * workgroup's two sums (chain W: L + W + 6, P + 2W + 4), then a finalize of one partial per row
 * (a serial merge of K = 1: L + 2), and the + 10 of the products and the division by the count.
 */
export function stridedRowsStatisticsTerms(view: NormView, gpu: { device: GPUDevice; tuning: KernelTuning }): StatisticsTerms {
  const wg = gpu.tuning.workgroupSize;
  const perGroup = view.params / view.groups;
  const vec4 = perGroup % 4 === 0;
  const chunkUnits = view.inner * (vec4 ? perGroup / 4 : perGroup);
  const values = Math.ceil(chunkUnits / wg) * (vec4 ? 4 : 1);
  const merges = Math.ceil(values / 16);
  const thread = merges > 1 ? { kappa: merges + 8, running: merges + 6 } : { kappa: 0, running: 0 };
  const workgroup = workgroupSumChain(wg, reductionSubgroupMaxSize(gpu));
  return { chain: 7 + 2 * merges + workgroup + 6 + 2 + 10, partitions: 10 + thread.kappa + 2 * workgroup + 4, chains: thread.running };
}
