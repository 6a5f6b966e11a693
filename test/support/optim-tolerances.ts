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
 * These are bounds for well-conditioned data (the tests draw gradients from normals: RMSprop's
 * centred s − a² stays ≥ 0.8·s); they do not cover deliberately ill-conditioned inputs.
 */
export const EPS32 = 2 ** -24;
export const P_TERMS = 4;
export const U_TERMS = 32;
export const S_TERMS = 16;
/** Below every value the tests produce; only lets exact zeros on both sides pass. */
export const OPTIM_ATOL = 1e-30;
