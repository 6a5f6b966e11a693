import type { CheckedSaved, ResolvedBackwardOptions } from './backward-options';
import { normalizingStats } from './cpu/backward';
import { BatchNormError } from './errors';
import type { BackwardResult, Tolerance } from './types';
import { describe, worstMismatch, type Mismatch } from './verify';

/**
 * Verify mode for the backward pass, in the magnitude-aware style of verify.ts: an element passes
 * when |gpu − cpu| ≤ atol + rtol · magnitude, where magnitude is the size of the float32
 * terms behind it. Per channel, with g = dy after the relu mask:
 * - dbeta = Σ g: magnitude Σ|g|; dgamma = invStd · Σ g·(x − mean): magnitude invStd · Σ|g·(x − mean)|.
 *   With random signs these sums are ~√M smaller than their terms, so |value| would be far too tight.
 * - dx = k·g + c + m·(x − mean): the three terms can be much larger than their sum (M·dy, dbeta and
 *   x̂·dgamma cancel), and c, m carry the sums' errors, so the magnitude is
 *   |k| · (|g| + Σ|g|/M + invStd² · |x − mean| · Σ|g·(x − mean)|/M)   (eval: |k·g|).
 * - relu: both paths mask dy where the given y is not positive, the same elements by construction,
 *   so masked elements contribute nothing to either result and need no allowance.
 * - dz (a residual's gradient) is dy or 0 on both paths: no rounding, so it must match exactly.
 */
export function verifyBackward(
  gpu: BackwardResult,
  cpu: BackwardResult,
  dy: Float32Array,
  x: Float32Array,
  o: ResolvedBackwardOptions,
  saved: CheckedSaved,
  tol: Tolerance,
): void {
  const { channels: C, inner, count: M } = o.view;
  const channelOf = (i: number) => Math.floor(i / inner) % C;
  const { mean, invStd } = normalizingStats(o, saved);
  const y = o.activation === 'relu' ? saved.y! : undefined;
  const g = (i: number) => (y && !(y[i] > 0) ? 0 : Math.abs(dy[i]));
  const sums = { g: new Float64Array(C), gx: new Float64Array(C) };
  for (let i = 0; i < x.length; i++) {
    const c = channelOf(i);
    sums.g[c] += g(i);
    sums.gx[c] += g(i) * Math.abs(x[i] - mean[c]);
  }
  const k = (c: number) => Math.abs((o.gamma ? o.gamma[c] : 1) * invStd[c]);
  const train = o.mode === 'train';
  const dxMagnitude = (i: number) => {
    const c = channelOf(i);
    if (!train) return k(c) * g(i);
    return k(c) * (g(i) + sums.g[c] / M + invStd[c] ** 2 * Math.abs(x[i] - mean[c]) * (sums.gx[c] / M));
  };
  const checks: (Mismatch | undefined)[] = [
    worstMismatch('dx', gpu.dx, cpu.dx, dxMagnitude, tol),
    worstMismatch('dgamma', gpu.dgamma, cpu.dgamma, (c) => invStd[c] * sums.gx[c], tol),
    worstMismatch('dbeta', gpu.dbeta, cpu.dbeta, (c) => sums.g[c], tol),
  ];
  if (gpu.dz && cpu.dz) checks.push(worstMismatch('dz', gpu.dz, cpu.dz, () => 0, { rtol: 0, atol: 0 }));
  const worst = checks.filter((m): m is Mismatch => m !== undefined).sort((a, b) => b.excess - a.excess)[0];
  if (worst) throw new BatchNormError('verification-failed', describe(worst, o.shape));
}
