import type { ResolvedBackwardOptions } from './backward-options';
import { normalizingStats } from './cpu/backward';
import { foldScaleShift } from './cpu/scale-shift';
import { BatchNormError } from './errors';
import type { BackwardResult, SavedStatistics, Tolerance } from './types';
import { describe, worstMismatch, type Mismatch } from './verify';

/**
 * Verify mode for the backward pass, in the magnitude-aware style of verify.ts: an element passes
 * when |gpu − cpu| ≤ atol + rtol · magnitude (+ slack), where magnitude is the size of the float32
 * terms behind it. Per channel, with g = dy after the relu mask:
 * - dbeta = Σ g: magnitude Σ|g|; dgamma = invStd · Σ g·(x − mean): magnitude invStd · Σ|g·(x − mean)|.
 *   With random signs these sums are ~√M smaller than their terms, so |value| would be far too tight.
 * - dx = k·g + c + m·(x − mean): the three terms can be much larger than their sum (M·dy, dbeta and
 *   x̂·dgamma cancel), and c, m carry the sums' errors, so the magnitude is
 *   |k| · (|g| + Σ|g|/M + invStd² · |x − mean| · Σ|g·(x − mean)|/M)   (eval: |k·g|).
 * - relu: where the forward output is within a few float32 ulps of its terms around 0, the GPU and
 *   the CPU can legitimately mask differently. Those elements get a slack of their whole dy term in
 *   dx, and their |dy| and |dy·(x − mean)| are added to the channel's allowance in the sums.
 */
const MASK_BAND = 2 ** -20; // 16 float32 ulps of |x·scale| + |shift| + |β|

export function verifyBackward(
  gpu: BackwardResult,
  cpu: BackwardResult,
  dy: Float32Array,
  x: Float32Array,
  o: ResolvedBackwardOptions,
  saved: SavedStatistics | undefined,
  tol: Tolerance,
): void {
  const { channels: C, inner, count: M } = o.view;
  const channelOf = (i: number) => Math.floor(i / inner) % C;
  const { mean, invStd } = normalizingStats(o, saved);
  const relu = o.activation === 'relu';
  const { scale, shift } = foldScaleShift(mean, Float64Array.from(invStd), o.gamma, o.beta);
  const masked = new Uint8Array(x.length); // 1: dy is masked, 2: the mask is ambiguous
  const sums = { g: new Float64Array(C), gx: new Float64Array(C), ambiguous: new Float64Array(C), ambiguousX: new Float64Array(C) };
  for (let i = 0; i < x.length; i++) {
    const c = channelOf(i);
    const dev = Math.abs(x[i] - mean[c]);
    if (relu) {
      const y = x[i] * scale[c] + shift[c];
      if (Math.abs(y) <= MASK_BAND * (Math.abs(x[i] * scale[c]) + Math.abs(shift[c]) + Math.abs(o.beta ? o.beta[c] : 0))) {
        masked[i] = 2;
        sums.ambiguous[c] += Math.abs(dy[i]);
        sums.ambiguousX[c] += Math.abs(dy[i]) * dev;
      } else if (y <= 0) masked[i] = 1;
    }
    const g = masked[i] === 1 ? 0 : Math.abs(dy[i]);
    sums.g[c] += g;
    sums.gx[c] += g * dev;
  }
  const k = (c: number) => Math.abs((o.gamma ? o.gamma[c] : 1) * invStd[c]);
  const train = o.mode === 'train';
  const dxMagnitude = (i: number) => {
    const c = channelOf(i);
    const g = masked[i] === 1 ? 0 : Math.abs(dy[i]);
    if (!train) return k(c) * g;
    return k(c) * (g + sums.g[c] / M + invStd[c] ** 2 * Math.abs(x[i] - mean[c]) * (sums.gx[c] / M));
  };
  const dxSlack = (i: number) => {
    const c = channelOf(i);
    const own = masked[i] === 2 ? k(c) * Math.abs(dy[i]) : 0;
    if (!train) return own;
    return own + k(c) * (sums.ambiguous[c] / M + invStd[c] ** 2 * Math.abs(x[i] - mean[c]) * (sums.ambiguousX[c] / M));
  };
  const checks: (Mismatch | undefined)[] = [
    worstMismatch('dx', gpu.dx, cpu.dx, dxMagnitude, tol, dxSlack),
    worstMismatch('dgamma', gpu.dgamma, cpu.dgamma, (c) => invStd[c] * sums.gx[c], tol, (c) => invStd[c] * sums.ambiguousX[c]),
    worstMismatch('dbeta', gpu.dbeta, cpu.dbeta, (c) => sums.g[c], tol, (c) => sums.ambiguous[c]),
  ];
  const worst = checks.filter((m): m is Mismatch => m !== undefined).sort((a, b) => b.excess - a.excess)[0];
  if (worst) throw new BatchNormError('verification-failed', describe(worst, o.shape));
}
