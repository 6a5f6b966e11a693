import { BatchNormError } from '../errors';
import type { Tolerance } from '../types';
import { describe, worstMismatch, type Mismatch } from '../verify';
import { activationDerivative } from './activation-math';
import { viewIndex } from './norm-options';
import type { CheckedNormSaved, NormBackwardResult, NormForwardResult, ResolvedNormBackwardOptions, ResolvedNormOptions } from './norm-types';

/*
 * Verify mode for the norm family: each GPU output is compared with the CPU path's, an element
 * passing when |gpu − cpu| ≤ atol + rtol · magnitude, magnitude being the size of the float32 terms
 * behind it (verify.ts), so that cancellation is not mistaken for an error:
 * - y = act(x·s + t + z) with s = γ·invStd, t = β − mean·s: magnitude |y| + |x·s| + |t| + |z| (the
 *   fused activations have |act'| ≤ 1.13, inside any useful rtol);
 * - mean: |mean| + std; invStd: |invStd|;
 * - g = dy·act'(a): a carries an error of the size of its terms A = |γ·x̂| + |β| + |z| and |act''| ≤ 1
 *   for gelu, gelu-tanh and silu, so |g| is known to |dy|·(|act'(a)| + A) (none, relu: |dy|);
 * - dγ = Σ g·x̂: Σ|g·x̂|; dβ = Σ g: Σ|g|; dz = g: |g|'s magnitude;
 * - dx = invStd·(h − Σh/D − x̂·Σh·x̂/D), h = γ·g: invStd·(|h| + Σ|h|/D + |x̂|·Σ|h·x̂|/D).
 */

function throwWorst(checks: (Mismatch | undefined)[], shape: readonly number[]): void {
  const worst = checks.filter((m): m is Mismatch => m !== undefined).sort((a, b) => b.excess - a.excess)[0];
  if (worst) throw new BatchNormError('verification-failed', describe(worst, shape));
}

export function verifyNormForward(gpu: NormForwardResult, cpu: NormForwardResult, x: Float32Array, o: ResolvedNormOptions, tol: Tolerance): void {
  const { rowOf, paramOf } = viewIndex(o.view);
  const mean = (r: number) => (cpu.mean ? cpu.mean[r] : 0);
  const yMagnitude = (i: number) => {
    const r = rowOf(i);
    const p = paramOf(i);
    const s = (o.gamma ? o.gamma[p] : 1) * cpu.invStd[r];
    return Math.abs(cpu.y[i]) + Math.abs(x[i] * s) + Math.abs((o.beta ? o.beta[p] : 0) - mean(r) * s) + (o.residual ? Math.abs(o.residual[i]) : 0);
  };
  const checks = [worstMismatch('y', gpu.y, cpu.y, yMagnitude, tol), worstMismatch('invStd', gpu.invStd, cpu.invStd, (r) => Math.abs(cpu.invStd[r]), tol)];
  if (cpu.mean) {
    if (!gpu.mean) throw new BatchNormError('verification-failed', 'GPU result has no mean');
    checks.push(worstMismatch('mean', gpu.mean, cpu.mean, (r) => Math.abs(mean(r)) + 1 / cpu.invStd[r], tol));
  }
  if (o.running && cpu.runningMean && cpu.runningVar) {
    // Each running value: its old value plus the size of the instances' statistics behind it.
    const { runningMean, runningVar } = o.running;
    const { outer: N, params: C } = o.view;
    const spread = (c: number, term: (r: number) => number) => {
      let largest = 0;
      for (let n = 0; n < N; n++) largest = Math.max(largest, term(n * C + c));
      return largest;
    };
    if (!gpu.runningMean || !gpu.runningVar) throw new BatchNormError('verification-failed', 'GPU result has no running statistics');
    checks.push(worstMismatch('runningMean', gpu.runningMean, cpu.runningMean, (c) => Math.abs(runningMean[c]) + spread(c, (r) => Math.abs(mean(r)) + 1 / cpu.invStd[r]), tol));
    checks.push(worstMismatch('runningVar', gpu.runningVar, cpu.runningVar, (c) => Math.abs(runningVar[c]) + 2 * spread(c, (r) => 1 / cpu.invStd[r] ** 2), tol));
  }
  throwWorst(checks, o.shape);
}

export function verifyNormBackward(
  gpu: NormBackwardResult,
  cpu: NormBackwardResult,
  dy: Float32Array,
  x: Float32Array,
  o: ResolvedNormBackwardOptions,
  saved: CheckedNormSaved,
  tol: Tolerance,
): void {
  const { view, gamma, beta, activation } = o;
  const { rowOf, paramOf } = viewIndex(view);
  const z = o.residual instanceof Float32Array ? o.residual : undefined;
  const y = saved.y;
  const xhat = Float64Array.from(x, (v, i) => (v - (saved.mean ? saved.mean[rowOf(i)] : 0)) * saved.invStd[rowOf(i)]);
  const gAbs = Float64Array.from(dy, (d, i) => {
    if (activation === 'relu') return y![i] > 0 ? Math.abs(d) : 0;
    if (activation === 'none') return Math.abs(d);
    const p = paramOf(i);
    const terms = Math.abs((gamma ? gamma[p] : 1) * xhat[i]) + Math.abs(beta ? beta[p] : 0) + (z ? Math.abs(z[i]) : 0);
    const a = (gamma ? gamma[p] : 1) * xhat[i] + (beta ? beta[p] : 0) + (z ? z[i] : 0);
    return Math.abs(d) * (Math.abs(activationDerivative(activation, a)) + terms);
  });
  const sums = { g: new Float64Array(view.params), gx: new Float64Array(view.params), h: new Float64Array(view.rows), hx: new Float64Array(view.rows) };
  const hAbs = (i: number) => gAbs[i] * Math.abs(gamma ? gamma[paramOf(i)] : 1);
  for (let i = 0; i < view.size; i++) {
    const p = paramOf(i);
    const r = rowOf(i);
    sums.g[p] += gAbs[i];
    sums.gx[p] += gAbs[i] * Math.abs(xhat[i]);
    sums.h[r] += hAbs(i);
    sums.hx[r] += hAbs(i) * Math.abs(xhat[i]);
  }
  const D = view.rowLength;
  const dxMagnitude = (i: number) => {
    const r = rowOf(i);
    return Math.abs(saved.invStd[r]) * (hAbs(i) + sums.h[r] / D + Math.abs(xhat[i]) * (sums.hx[r] / D));
  };
  const checks = [worstMismatch('dx', gpu.dx, cpu.dx, dxMagnitude, tol), worstMismatch('dgamma', gpu.dgamma, cpu.dgamma, (p) => sums.gx[p], tol)];
  if (cpu.dbeta) {
    if (!gpu.dbeta) throw new BatchNormError('verification-failed', 'GPU result has no dbeta');
    checks.push(worstMismatch('dbeta', gpu.dbeta, cpu.dbeta, (p) => sums.g[p], tol));
  }
  if (cpu.dz) {
    if (!gpu.dz) throw new BatchNormError('verification-failed', 'GPU result has no dz');
    checks.push(worstMismatch('dz', gpu.dz, cpu.dz, (i) => gAbs[i], tol));
  }
  throwWorst(checks, o.shape);
}
