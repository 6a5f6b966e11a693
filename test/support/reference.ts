import { channelOf, splitShape } from './channel-index';

/*
 * Float64 batch norm written the obvious way, by index arithmetic, sharing no code with the library:
 * the channel of element i is floor(i / inner) % C, and every formula is the textbook one
 * (y = γ·(x − mean)/sqrt(var + eps) + β, each convention's running update spelled out).
 * Browser-safe: the GPU harness page imports it too.
 */

export interface ReferenceParams {
  shape: readonly number[];
  /** Channel axis = position of 'C' in the layout name; axis 1 when absent. */
  layout?: string;
  gamma?: ArrayLike<number>;
  beta?: ArrayLike<number>;
  eps: number;
  momentum: number;
  convention: 'pytorch' | 'keras' | 'onnx';
  activation: 'none' | 'relu';
  runningMean?: ArrayLike<number>;
  runningVar?: ArrayLike<number>;
  /** z of a residual add: y = act(BN(x) + z). */
  residual?: Float32Array;
}

export interface ReferenceTrainResult {
  y: Float64Array;
  mean: Float64Array;
  /** Biased: Σ(x − mean)² / M. */
  variance: Float64Array;
  invStd: Float64Array;
  runningMean?: Float64Array;
  runningVar?: Float64Array;
}

function normalize(
  x: ArrayLike<number>,
  p: ReferenceParams,
  mean: ArrayLike<number>,
  variance: ArrayLike<number>,
): Float64Array {
  const { channels, inner } = splitShape(p.shape, p.layout);
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const c = channelOf(i, channels, inner);
    const gamma = p.gamma ? p.gamma[c] : 1;
    const beta = p.beta ? p.beta[c] : 0;
    const v = (gamma * (x[i] - mean[c])) / Math.sqrt(variance[c] + p.eps) + beta + (p.residual ? p.residual[i] : 0);
    y[i] = p.activation === 'relu' && v < 0 ? 0 : v;
  }
  return y;
}

export function referenceForwardTrain(x: ArrayLike<number>, p: ReferenceParams): ReferenceTrainResult {
  const { channels, inner } = splitShape(p.shape, p.layout);
  const count = x.length / channels;
  const mean = new Float64Array(channels);
  for (let i = 0; i < x.length; i++) mean[channelOf(i, channels, inner)] += x[i];
  for (let c = 0; c < channels; c++) mean[c] /= count;
  const variance = new Float64Array(channels);
  for (let i = 0; i < x.length; i++) {
    const c = channelOf(i, channels, inner);
    variance[c] += (x[i] - mean[c]) ** 2;
  }
  for (let c = 0; c < channels; c++) variance[c] /= count;
  const invStd = variance.map((v) => 1 / Math.sqrt(v + p.eps));
  const result: ReferenceTrainResult = { y: normalize(x, p, mean, variance), mean, variance, invStd };
  if (p.runningMean && p.runningVar) {
    const rm = p.runningMean;
    const rv = p.runningVar;
    const m = p.momentum;
    if (p.convention === 'pytorch') {
      // torch.nn.BatchNorm*d: the running variance takes the unbiased estimate.
      result.runningMean = mean.map((mu, c) => (1 - m) * rm[c] + m * mu);
      result.runningVar = variance.map((v, c) => (1 - m) * rv[c] + m * ((v * count) / (count - 1)));
    } else {
      // keras.layers.BatchNormalization and ONNX BatchNormalization (training_mode = 1):
      // momentum weighs the old value; biased variance.
      result.runningMean = mean.map((mu, c) => m * rm[c] + (1 - m) * mu);
      result.runningVar = variance.map((v, c) => m * rv[c] + (1 - m) * v);
    }
  }
  return result;
}

/** Inference: normalization with the running statistics in place of the batch statistics. */
export function referenceForwardInference(x: ArrayLike<number>, p: ReferenceParams): Float64Array {
  if (!p.runningMean || !p.runningVar) throw new Error('reference inference needs running statistics');
  return normalize(x, p, p.runningMean, p.runningVar);
}
