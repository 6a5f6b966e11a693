/*
 * Tolerance of the GPU optimizers against the CPU optimizers after T steps. Browser-safe.
 *
 * The CPU computes each step in float64 and rounds what it stores; the GPU computes in float32.
 * Per element i, with the CPU trajectory's largest |p| (maxP), largest step |p_t − p_t−1| (maxU)
 * and largest state value (maxS), over steps 0…T:
 *
 *   param:  |gpu − cpu| ≤ T·ε·(P_TERMS·maxP + U_TERMS·maxU)
 *   state:  |gpu − cpu| ≤ T·ε·S_TERMS·maxS
 *
 * - P_TERMS = 4: each step the new p is rounded on both sides (2ε|p|), AdamW's p·(1 − γλ) once
 *   more on the GPU, and λ·p in the gradient is rounded in float32.
 * - U_TERMS = 32: the float32 update carries its own roundings, relative to its size: SGD ≤ 4
 *   (fma, μ·b, γ·g); Adam ≈ 14 (m and v: 3 each, both bias corrections ≤ 8 ulps each by
 *   test/node/optim-bias-correction.test.ts, entering as their sqrt and their ratio, sqrt, two
 *   divisions, + ε, × step size); RMSprop ≈ 10; plus γ, β, 1 − β, λ rounded to float32 on the GPU
 *   (≤ ε/2 each). Doubled for what the state carries over from earlier steps, beyond its own term.
 * - S_TERMS = 16: a state value is a short fma chain per step (≤ 3 roundings) plus the error in
 *   the gradient terms it folds in; earlier errors decay by β, α or μ < 1 each step.
 * - The factor T assumes no cancellation between steps: errors may add up, never grow faster.
 * - Centred RMSprop divides by sqrt(s − a²) (s, a: the averages of g² and g). Float32 rounds s
 *   and a² by about ε·s each, so the difference carries a relative error of about ε·κ with
 *   κ = s / (s − a²) ≥ 1, and the update (∝ (s − a²)^−½) half of it. The U term, and the
 *   tolerance of every state that folds the update in (the momentum buffer), are therefore scaled
 *   by the element's largest κ along the CPU trajectory (centredConditioning; 1 elsewhere). With
 *   gradients drawn from normals κ is mostly below 1.3, but a run of same-signed gradients makes
 *   it grow: one element of 4 099 reached κ ≈ 9 in a 20-step case.
 * - L2 weight decay forms g = grad + λ·p, rounded once or twice on either side: an absolute
 *   error of up to 2ε(|grad| + λ|p|), which no term relative to g covers when grad ≈ −λp (then g
 *   is tiny and carries a large relative error). And the GPU forms it from its own p, whose error
 *   e_p (bounded by the parameter tolerance so far) adds λ·e_p. gradientError gives both per
 *   step. Adam and RMSprop divide by a denominator that is itself about |g| plus eps, so the
 *   update's error is up to that error / denominator per step (the update's sensitivity to g is at
 *   most 1/denominator), carried on by the momentum buffer or Adam's first moment (at most
 *   1/(1 − μ) or 1/(1 − β1) times); throughUpdate sums it along the CPU trajectory, the parameter
 *   tolerance adds lr times it and the momentum buffer's adds it. The averages of g (RMSprop's
 *   gradAvg, Adam's first moment: weights 1 − β summing to ≤ 1) are off by at most the largest
 *   g error, the averages of g² (squareAvg, Adam's second moments) by the largest
 *   2|g|·δg + δg² (foldedError). (Seen: with λ = 0.01, grad = −0.0218 and λp = +0.0218 left
 *   g ≈ 9e-7, RMSprop's first denominator ≈ 1e-7 with eps = 1e-8, and the float32 step was
 *   1.2e-4 off after 20 steps, which a float32 simulation of the same steps reproduces exactly;
 *   and centred RMSprop with momentum, a parameter 2.2e-3 off within its tolerance, left gradAvg
 *   1.5e-6 off where its rounding terms allowed 1.9e-7.)
 * These are bounds for the data the tests draw; they do not cover deliberately ill-conditioned
 * inputs (κ → ∞ as s − a² → 0).
 */
export const EPS32 = 2 ** -24;
export const P_TERMS = 4;
export const U_TERMS = 32;
export const S_TERMS = 16;
/** Below every value the tests produce; only lets exact zeros on both sides pass. */
export const OPTIM_ATOL = 1e-30;

import type { ResolvedOptimizerOptions } from '../../src/optim/types';

/** |g| ≤ |grad| + λ|p| at element i, with L2 weight decay λ (maximize only flips grad's sign). */
function gradientBound(o: ResolvedOptimizerOptions, grad: ArrayLike<number>, p: ArrayLike<number>, i: number): number {
  return Math.abs(grad[i]) + o.weightDecay * Math.abs(p[i]);
}

/**
 * Per element, a bound on |g_gpu − g_cpu| of one step: with L2 weight decay (not AdamW's decoupled
 * one) 2ε(|grad| + λ|p|) for the roundings plus λ · pError (the parameter's error before the
 * step); 0 without. `p` is the CPU's parameter before the step.
 */
export function gradientError(o: ResolvedOptimizerOptions, grad: ArrayLike<number>, p: ArrayLike<number>, pError: ArrayLike<number>): Float64Array {
  const out = new Float64Array(grad.length);
  if (o.weightDecay === 0 || o.kind === 'adamw') return out;
  for (let i = 0; i < out.length; i++) out[i] = 2 * EPS32 * gradientBound(o, grad, p, i) + o.weightDecay * pError[i];
  return out;
}

/**
 * Adds, per element, gError / denominator of one step (see above) to `into`, times the memory
 * factor: what the g error does to the update. `state` is the CPU's state after the step, `t` the
 * step's number from 1.
 */
export function throughUpdate(o: ResolvedOptimizerOptions, gError: ArrayLike<number>, state: Partial<Record<string, ArrayLike<number>>>, t: number, into: Float64Array): void {
  const denominator = (i: number): number => {
    if (o.kind === 'rmsprop') {
      const s = state.squareAvg![i];
      const a = state.gradAvg ? state.gradAvg[i] : 0;
      return Math.sqrt(Math.max(s - a * a, 0)) + o.eps;
    }
    if (o.kind === 'adam' || o.kind === 'adamw') {
      const v = o.amsgrad ? state.maxExpAvgSq![i] : state.expAvgSq![i];
      return Math.sqrt(v) / Math.sqrt(1 - o.betas[1] ** t) + o.eps;
    }
    return 1;
  };
  const momentum = 'betas' in o ? o.betas[0] : o.momentum;
  const memory = 1 / (1 - momentum);
  for (let i = 0; i < into.length; i++) if (gError[i] > 0) into[i] += (memory * gError[i]) / denominator(i);
}

/**
 * Raises, per element, the largest error one step's g error leaves in an average of g (`first`:
 * δg) and of g² (`second`: 2|g|·δg + δg², |g| by gradientBound).
 */
export function foldedError(o: ResolvedOptimizerOptions, gError: ArrayLike<number>, grad: ArrayLike<number>, p: ArrayLike<number>, first: Float64Array, second: Float64Array): void {
  for (let i = 0; i < first.length; i++) {
    const e = gError[i];
    if (e === 0) continue;
    const g = gradientBound(o, grad, p, i);
    first[i] = Math.max(first[i], e);
    second[i] = Math.max(second[i], 2 * g * e + e * e);
  }
}

/** κ = s / (s − a²) of centred RMSprop per element (see above); 1 where there is no gradAvg state. */
export function centredConditioning(squareAvg: ArrayLike<number>, gradAvg: ArrayLike<number> | undefined, into: Float64Array): void {
  if (!gradAvg) return;
  for (let i = 0; i < into.length; i++) {
    const s = squareAvg[i];
    const d = s - gradAvg[i] * gradAvg[i];
    const kappa = d > 0 ? s / d : Number.POSITIVE_INFINITY;
    if (kappa > into[i]) into[i] = kappa;
  }
}
