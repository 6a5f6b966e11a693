import * as tf from '@tensorflow/tfjs';
import { BatchNormError } from '../errors';
import type { Activation } from '../types';
import { normalizeAxis, TRAIN_KERNEL, type TrainAttrs } from './kernel-config';
import { kernelsOnCurrentBackend } from './register';

export interface BatchNormTrainOptions {
  /** Channel (feature) axis; default -1, as tf.layers.batchNormalization. */
  axis?: number;
  /** Default 1e-3 (Keras). */
  epsilon?: number;
  /** Default 0.99; Keras convention: moving = momentum·moving + (1 − momentum)·batch statistic. */
  momentum?: number;
  /** 'relu' fuses a ReLU after the affine step (default 'none'). */
  activation?: Activation;
  /** Moving statistics ([C]); when given, their updated values are returned (the inputs are not modified). */
  movingMean?: tf.Tensor;
  movingVariance?: tf.Tensor;
}

export interface BatchNormTrainResult {
  /** Normalized, scaled and shifted x (then ReLU with activation 'relu'). */
  y: tf.Tensor;
  /** Batch mean and biased batch variance, [C]; returned for inspection, gradients do not flow through them. */
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
  /** Updated moving statistics, [C], when movingMean and movingVariance were given. */
  movingMean?: tf.Tensor1D;
  movingVariance?: tf.Tensor1D;
}

interface Core {
  y: tf.Tensor;
  /** [mean | variance | invStd | scale | shift] from our kernels; absent on the stock path. */
  stats?: tf.Tensor1D;
  mean?: tf.Tensor1D;
  variance?: tf.Tensor1D;
  movingMean?: tf.Tensor1D;
  movingVariance?: tf.Tensor1D;
}

/** ones/zeros of length C standing in for an absent γ or β, kept per backend and reused (batch and layer norm). */
const constants = new WeakMap<object, Map<string, tf.Tensor1D>>();

export function constant(channels: number, value: 0 | 1): tf.Tensor1D {
  const backend = tf.engine().backend as object;
  let byKey = constants.get(backend);
  if (!byKey) constants.set(backend, (byKey = new Map()));
  const key = `${value}:${channels}`;
  let t = byKey.get(key);
  if (!t || t.isDisposed) {
    t = tf.keep(tf.fill([channels], value, 'float32') as tf.Tensor1D);
    byKey.set(key, t);
  }
  return t;
}

function perChannel(name: string, t: tf.Tensor | null | undefined, channels: number, fill: 0 | 1): tf.Tensor1D {
  if (t == null) return constant(channels, fill);
  if (t.size !== channels) throw new BatchNormError('channel-mismatch', `${name} has ${t.size} values, expected C = ${channels}`);
  const flat = (t.rank === 1 ? t : tf.reshape(t, [channels])) as tf.Tensor1D;
  return flat.dtype === 'float32' ? flat : (tf.cast(flat, 'float32') as tf.Tensor1D);
}

export function resolveAttrs(x: tf.Tensor, options: BatchNormTrainOptions): TrainAttrs {
  const { movingMean, movingVariance } = options;
  if ((movingMean == null) !== (movingVariance == null)) {
    throw new BatchNormError('missing-running-stats', 'movingMean and movingVariance must be given together');
  }
  return {
    axis: normalizeAxis(options.axis ?? -1, x.rank),
    epsilon: options.epsilon ?? 1e-3,
    momentum: options.momentum ?? 0.99,
    activation: options.activation ?? 'none',
    updateMoving: movingMean != null,
  };
}

/** Our kernels (webgpu, cpu backends): one forward kernel, its registered gradient. */
function kernelPath(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, attrs: TrainAttrs, options: BatchNormTrainOptions): Core {
  const C = x.shape[attrs.axis];
  const inputs: tf.NamedTensorMap = { x, gamma, beta };
  if (attrs.updateMoving) {
    inputs.movingMean = perChannel('movingMean', options.movingMean, C, 0);
    inputs.movingVariance = perChannel('movingVariance', options.movingVariance, C, 1);
  }
  const [y, stats, movingMean, movingVariance] = tf.engine().runKernel(TRAIN_KERNEL, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
  return { y, stats: stats as tf.Tensor1D, movingMean: movingMean as tf.Tensor1D | undefined, movingVariance: movingVariance as tf.Tensor1D | undefined };
}

/** Other backends (webgl, wasm, …): the same formulas with stock ops, differentiated by TF.js. */
function stockPath(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, attrs: TrainAttrs, options: BatchNormTrainOptions): Core {
  const { axis, epsilon, momentum } = attrs;
  const C = x.shape[axis];
  const axes = x.shape.map((_, i) => i).filter((i) => i !== axis);
  const { mean, variance } = tf.moments(x, axes);
  const broadcast = x.shape.map((d, i) => (i === axis ? d : 1));
  const scale = tf.mul(gamma, tf.rsqrt(tf.add(variance, epsilon)));
  let y = tf.add(tf.mul(tf.sub(x, tf.reshape(mean, broadcast)), tf.reshape(scale, broadcast)), tf.reshape(beta, broadcast));
  if (attrs.activation === 'relu') y = tf.relu(y);
  const core: Core = { y, mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D };
  if (attrs.updateMoving) {
    const moving = (old: tf.Tensor, batch: tf.Tensor) => tf.add(tf.mul(old, momentum), tf.mul(batch, 1 - momentum)) as tf.Tensor1D;
    core.movingMean = moving(perChannel('movingMean', options.movingMean, C, 0), mean);
    core.movingVariance = moving(perChannel('movingVariance', options.movingVariance, C, 1), variance);
  }
  return core;
}

/** Runs the forward on our kernels when the backend has them, else with stock ops. */
export function batchNormTrainCore(x: tf.Tensor, gamma: tf.Tensor | null | undefined, beta: tf.Tensor | null | undefined, options: BatchNormTrainOptions): Core {
  const attrs = resolveAttrs(x, options);
  const C = x.shape[attrs.axis];
  const input = x.dtype === 'float32' ? x : tf.cast(x, 'float32');
  const g = perChannel('gamma', gamma, C, 1);
  const b = perChannel('beta', beta, C, 0);
  return kernelsOnCurrentBackend() ? kernelPath(input, g, b, attrs, options) : stockPath(input, g, b, attrs, options);
}

/**
 * Batch normalization in training mode (batch statistics), differentiable with respect to x, γ
 * and β. On the 'webgpu' backend it runs this library's kernels on TF.js's own GPUDevice and
 * tensor buffers, recorded into TF.js's command encoder: no readback, no upload, no extra submit.
 * On 'cpu' it runs the library's CPU path; on other backends the same formulas with stock ops.
 * γ or β may be null (ones / zeros).
 */
export function batchNormTrain(
  x: tf.Tensor,
  gamma?: tf.Tensor | null,
  beta?: tf.Tensor | null,
  options: BatchNormTrainOptions = {},
): BatchNormTrainResult {
  return tf.tidy(() => {
    const core = batchNormTrainCore(x, gamma, beta, options);
    const C = core.y.shape[resolveAttrs(x, options).axis];
    const mean = core.mean ?? (tf.slice(core.stats!, 0, C) as tf.Tensor1D);
    const variance = core.variance ?? (tf.slice(core.stats!, C, C) as tf.Tensor1D);
    const result: BatchNormTrainResult = { y: core.y, mean, variance };
    if (core.movingMean) result.movingMean = core.movingMean;
    if (core.movingVariance) result.movingVariance = core.movingVariance;
    return result as unknown as tf.TensorContainer;
  }) as unknown as BatchNormTrainResult;
}
