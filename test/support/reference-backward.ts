import { channelOf, splitShape } from './channel-index';
import type { ReferenceParams } from './reference';

/*
 * Float64 batch-norm gradients written the textbook way, by index arithmetic, sharing no code with
 * the library (which uses dx = k·dy + c + m·(x − mean)):
 *   x̂ = (x − mean)·invStd,  g = dy where the relu output y > 0, else 0 (±0, negative, NaN),
 *   dbeta = Σ g,  dgamma = Σ g·x̂,
 *   train: dx = γ·invStd/M · (M·g − dbeta − x̂·dgamma)
 *   eval:  dx = γ·invStd · g
 * Browser-safe: the GPU harness page imports it too.
 */

export interface ReferenceStats {
  mean: ArrayLike<number>;
  invStd: ArrayLike<number>;
}

export interface ReferenceBackwardOptions {
  mode: 'train' | 'eval';
  /**
   * The statistics the forward normalized with, as inputs of the backward (PyTorch's save_mean and
   * save_invstd). Default: the float64 batch statistics of x (train) or the running statistics (eval).
   */
  stats?: ReferenceStats;
  /** The forward output whose relu mask applies; default: recomputed in float64 from the stats. */
  y?: ArrayLike<number>;
}

export interface ReferenceBackwardResult {
  dx: Float64Array;
  dgamma: Float64Array;
  dbeta: Float64Array;
  /** What the gradients were computed with, for the tolerances. */
  mean: Float64Array;
  invStd: Float64Array;
  /** dy after the relu mask. */
  g: Float64Array;
  /** The forward output the mask was taken from. */
  y: Float64Array;
}

function defaultStats(x: ArrayLike<number>, p: ReferenceParams, mode: 'train' | 'eval'): ReferenceStats {
  const { channels, inner } = splitShape(p.shape, p.layout);
  if (mode === 'eval') {
    if (!p.runningMean || !p.runningVar) throw new Error('reference eval backward needs running statistics');
    const rv = p.runningVar;
    return { mean: p.runningMean, invStd: Array.from({ length: channels }, (_, c) => 1 / Math.sqrt(rv[c] + p.eps)) };
  }
  const count = x.length / channels;
  const mean = new Float64Array(channels);
  for (let i = 0; i < x.length; i++) mean[channelOf(i, channels, inner)] += x[i];
  for (let c = 0; c < channels; c++) mean[c] /= count;
  const variance = new Float64Array(channels);
  for (let i = 0; i < x.length; i++) {
    const c = channelOf(i, channels, inner);
    variance[c] += (x[i] - mean[c]) ** 2;
  }
  return { mean, invStd: variance.map((v) => 1 / Math.sqrt(v / count + p.eps)) };
}

export function referenceBackward(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  p: ReferenceParams,
  o: ReferenceBackwardOptions,
): ReferenceBackwardResult {
  const { channels, inner } = splitShape(p.shape, p.layout);
  const count = x.length / channels;
  const stats = o.stats ?? defaultStats(x, p, o.mode);
  const mean = Float64Array.from(stats.mean);
  const invStd = Float64Array.from(stats.invStd);
  const gamma = (c: number) => (p.gamma ? p.gamma[c] : 1);
  const beta = (c: number) => (p.beta ? p.beta[c] : 0);
  const xhat = (i: number) => (x[i] - mean[channelOf(i, channels, inner)]) * invStd[channelOf(i, channels, inner)];

  const y = new Float64Array(x.length);
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const c = channelOf(i, channels, inner);
    y[i] = o.y ? o.y[i] : gamma(c) * xhat(i) + beta(c);
    // The gradient of relu passes where the output is positive, and nowhere else (a NaN output
    // blocks it, unlike torch's threshold_backward, which tests y ≤ 0).
    g[i] = p.activation === 'relu' && !(y[i] > 0) ? 0 : dy[i];
  }

  const dbeta = new Float64Array(channels);
  const dgamma = new Float64Array(channels);
  for (let i = 0; i < x.length; i++) {
    const c = channelOf(i, channels, inner);
    dbeta[c] += g[i];
    dgamma[c] += g[i] * xhat(i);
  }

  const dx = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const c = channelOf(i, channels, inner);
    const scale = gamma(c) * invStd[c];
    dx[i] = o.mode === 'eval' ? scale * g[i] : (scale / count) * (count * g[i] - dbeta[c] - xhat(i) * dgamma[c]);
  }
  return { dx, dgamma, dbeta, mean, invStd, g, y };
}
