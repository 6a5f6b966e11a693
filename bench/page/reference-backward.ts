/**
 * Float64 reference of the training-mode backward (DESIGN §1), used for the error of the backward
 * rows while the library has no CPU backward of its own (then the CPU path is the reference):
 *
 *   x̂ = (x − mean)·invStd,  dbeta = Σ dy,  dgamma = Σ dy·x̂,
 *   dx = gamma·invStd / M · (M·dy − dbeta − x̂·dgamma)
 *
 * with the biased batch variance and invStd = 1 / sqrt(var + eps).
 */
import type { ChannelView } from '../../src/layout';

export interface BackwardReference {
  dx: Float32Array;
  dgamma: Float32Array;
  dbeta: Float32Array;
}

export function referenceBackward(x: Float32Array, dy: Float32Array, gamma: Float32Array, view: ChannelView, eps: number): BackwardReference {
  const { outer, channels: C, inner, count: M } = view;
  const mean = new Float64Array(C);
  const m2 = new Float64Array(C);
  const forEach = (visit: (c: number, index: number) => void) => {
    for (let o = 0; o < outer; o++) {
      for (let c = 0; c < C; c++) {
        const base = (o * C + c) * inner;
        for (let i = 0; i < inner; i++) visit(c, base + i);
      }
    }
  };
  forEach((c, index) => (mean[c] += x[index]));
  for (let c = 0; c < C; c++) mean[c] /= M;
  forEach((c, index) => {
    const d = x[index] - mean[c];
    m2[c] += d * d;
  });
  const invStd = Float64Array.from(m2, (s) => 1 / Math.sqrt(s / M + eps));
  const dbeta = new Float64Array(C);
  const dgamma = new Float64Array(C);
  forEach((c, index) => {
    dbeta[c] += dy[index];
    dgamma[c] += dy[index] * (x[index] - mean[c]) * invStd[c];
  });
  const dx = new Float32Array(x.length);
  forEach((c, index) => {
    const xhat = (x[index] - mean[c]) * invStd[c];
    dx[index] = ((gamma[c] * invStd[c]) / M) * (M * dy[index] - dbeta[c] - xhat * dgamma[c]);
  });
  return { dx, dgamma: Float32Array.from(dgamma), dbeta: Float32Array.from(dbeta) };
}
