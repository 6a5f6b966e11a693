/*
 * Tolerances of the GPU checks, derived from float32 error analysis rather than tuned to pass.
 * ε = 2^-24 is float32's unit roundoff. Browser-safe (the harness page computes the checks).
 *
 * - y = fma(x, scale, shift) with scale = γ·invStd and shift = β − mean·scale, both rounded to
 *   float32: the result cannot be closer than a few ε of the magnitude of the terms combined,
 *   |x·scale| + |shift|, which is ≫ |y| when the mean is large (1e4 ± 1: terms near 1e4, y near 1).
 *   The statistics add their own relative error (variance below), so y is allowed
 *   Y_TERMS·ε·(|x·scale| + |shift|) + Y_REL·|y − β| + ATOL.
 * - mean: a sum of M float32 values merged in a tree, a few ε of |mean| + std.
 * - variance: shifted sums per thread, a workgroup sum, then Chan merges; 2^-24 per operation along
 *   the longest sequential chain (a thread's values, then log2(workgroup size) additions — plus up
 *   to subgroup size − 1 when the sum uses subgroups, 3 on SwiftShader — then the merges; see
 *   additionChain in backward-tolerances.ts) gives ≲ 1e-5 relative for our shapes;
 *   the issue's bound for mean 1e4 ± 1 inputs is 1e-4, which we also assert there.
 */
export const EPS32 = 2 ** -24;
export const Y_TERMS = 16;
export const Y_REL = 1e-5;
export const ATOL = 1e-6;
export const MEAN_TERMS = 16;
export const VARIANCE_RTOL = 2e-5;
export const LARGE_MEAN_VARIANCE_RTOL = 1e-4;
