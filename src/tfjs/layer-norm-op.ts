import * as tf from '@tensorflow/tfjs';
import { BatchNormError } from '../errors';
import { normActivations } from '../norms/norm-options';
import type { NormActivation } from '../norms/norm-types';
import { checkEps } from '../options';
import { LAYER_NORM_KERNEL, LAYER_NORM_RESIDUAL_KERNEL, layerNormRows, resolveLayerNormAxes, trailingCount, type LayerNormAttrs } from './layer-norm-config';
import { constant } from './op';
import { registerTfjsKernels } from './register';

export interface LayerNormOpOptions {
  /**
   * The normalized axis or axes, as tf.layers.layerNormalization's `axis` (Keras): one axis, or a
   * list; default -1, the last. γ and β have the normalized axes' size.
   */
  axis?: number | readonly number[];
  /** Added to the variance; default 1e-3 (Keras). */
  epsilon?: number;
  /** Fused after the normalization and the residual add: 'relu', 'gelu' (erf), 'gelu-tanh', 'silu'; default 'none'. */
  activation?: NormActivation;
  /** z, of x's shape: y = act(norm(x) + z). Differentiable as x is. */
  residual?: tf.Tensor;
}

export interface LayerNormOpResult {
  /** act(γ·(x − mean)·invStd + β (+ z)). */
  y: tf.Tensor;
  /**
   * Per row, in x's shape with the normalized axes of size 1 (tf.moments' keepDims, so they
   * broadcast against x). Returned for inspection: gradients flow from y only.
   */
  mean: tf.Tensor;
  /** 1 / sqrt(variance + epsilon) per row (biased variance), shaped as mean. */
  invStd: tf.Tensor;
}

interface Resolved {
  axes: number[];
  /** Trailing axes normalized (0: not the trailing ones). */
  trailing: number;
  /** x's shape with the normalized axes of size 1. */
  keptShape: number[];
  D: number;
  epsilon: number;
  activation: NormActivation;
}

/** Every option checked before anything runs, with a typed error. */
function resolve(x: tf.Tensor, gamma: tf.Tensor | null | undefined, beta: tf.Tensor | null | undefined, options: LayerNormOpOptions): Resolved {
  if (!(x instanceof tf.Tensor)) throw new BatchNormError('invalid-option', 'layerNorm needs x as a tf.Tensor');
  const axes = resolveLayerNormAxes(options.axis ?? -1, x.rank);
  const epsilon = checkEps(options.epsilon ?? 1e-3);
  const activation = options.activation ?? 'none';
  if (!normActivations.includes(activation)) {
    throw new BatchNormError('invalid-option', `activation must be one of ${normActivations.map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(activation)}`);
  }
  const keptShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const D = axes.reduce((n, a) => n * x.shape[a], 1);
  for (const [name, t] of [['gamma', gamma], ['beta', beta]] as const) {
    if (t == null) continue;
    if (!(t instanceof tf.Tensor)) throw new BatchNormError('invalid-option', `${name} must be a tf.Tensor or null`);
    if (t.size !== D) throw new BatchNormError('channel-mismatch', `${name} has ${t.size} values, expected D = ${D} (the normalized axes' size)`);
  }
  const z = options.residual;
  if (z !== undefined) {
    if (!(z instanceof tf.Tensor)) throw new BatchNormError('invalid-option', 'residual must be a tf.Tensor');
    if (z.shape.length !== x.rank || z.shape.some((d, i) => d !== x.shape[i])) {
      throw new BatchNormError('length-mismatch', `residual has shape [${z.shape.join(', ')}], expected x's [${x.shape.join(', ')}]`);
    }
  }
  return { axes, trailing: trailingCount(axes, x.rank), keptShape, D, epsilon, activation };
}

const float32 = (t: tf.Tensor) => (t.dtype === 'float32' ? t : tf.cast(t, 'float32'));

/** γ or β as the kernels take them: D values (in the memory order of the parameter's shape, as the stock layer's reshape reads them). */
function flatParam(t: tf.Tensor | null | undefined, D: number, fill: 0 | 1): tf.Tensor1D {
  return t == null ? constant(D, fill) : (float32(tf.reshape(t, [D])) as tf.Tensor1D);
}

/** The stock layer's formula with stock ops (moments over `axes`, biased), then the activation. */
function stockPath(x: tf.Tensor, gamma: tf.Tensor | null | undefined, beta: tf.Tensor | null | undefined, z: tf.Tensor | undefined, r: Resolved): LayerNormOpResult {
  const { mean, variance } = tf.moments(x, r.axes, true);
  const invStd = tf.rsqrt(tf.add(variance, r.epsilon));
  const paramShape = x.shape.map((d, i) => (r.axes.includes(i) ? d : 1));
  let a = tf.mul(tf.sub(x, mean), invStd);
  if (gamma != null) a = tf.mul(a, tf.reshape(float32(gamma), paramShape));
  if (beta != null) a = tf.add(a, tf.reshape(float32(beta), paramShape));
  if (z !== undefined) a = tf.add(a, float32(z));
  return { y: stockActivation(a, r.activation), mean, invStd };
}

/** The fused activations' formulas (norm-types.ts) with stock ops, differentiated by TF.js. */
function stockActivation(a: tf.Tensor, activation: NormActivation): tf.Tensor {
  switch (activation) {
    case 'none':
      return a;
    case 'relu':
      return tf.relu(a);
    case 'gelu':
      return tf.mul(tf.mul(a, 0.5), tf.add(tf.erf(tf.mul(a, Math.SQRT1_2)), 1));
    case 'gelu-tanh': {
      const inner = tf.mul(tf.add(a, tf.mul(tf.pow(a, 3), 0.044715)), Math.sqrt(2 / Math.PI));
      return tf.mul(tf.mul(a, 0.5), tf.add(tf.tanh(inner), 1));
    }
    case 'silu':
      return tf.mul(a, tf.sigmoid(a));
  }
}

/** Whether this backend has the op's kernels (webgpu, cpu). */
function kernelsHere(): boolean {
  registerTfjsKernels();
  return tf.getKernel(LAYER_NORM_KERNEL, tf.getBackend()) !== undefined;
}

/** y and, on the kernel path, the statistics tensor the result's mean and invStd are sliced from. */
interface Core {
  y: tf.Tensor;
  statistics: () => { mean: tf.Tensor; invStd: tf.Tensor };
}

/**
 * Layer norm on our kernels where they apply (webgpu, cpu; trailing axes; a non-empty x), else on
 * stock ops. Not wrapped in a tidy: the caller's.
 */
export function layerNormCore(x: tf.Tensor, gamma: tf.Tensor | null | undefined, beta: tf.Tensor | null | undefined, options: LayerNormOpOptions): Core {
  const r = resolve(x, gamma, beta, options);
  const input = float32(x);
  const z = options.residual;
  if (r.trailing === 0 || x.size === 0 || !kernelsHere()) {
    const out = stockPath(input, gamma, beta, z, r);
    return { y: out.y, statistics: () => ({ mean: out.mean, invStd: out.invStd }) };
  }
  const attrs: LayerNormAttrs = { normalized: r.trailing, epsilon: r.epsilon, activation: r.activation, residual: z !== undefined };
  const inputs: tf.NamedTensorMap = { x: input, gamma: flatParam(gamma, r.D, 1), beta: flatParam(beta, r.D, 0) };
  if (z !== undefined) inputs.residual = float32(z);
  const kernel = z !== undefined ? LAYER_NORM_RESIDUAL_KERNEL : LAYER_NORM_KERNEL;
  const [y, stats] = tf.engine().runKernel(kernel, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
  const { rows } = layerNormRows(x.shape, r.trailing);
  return {
    y,
    statistics: () => ({
      mean: tf.reshape(tf.slice(stats, 0, rows), r.keptShape),
      invStd: tf.reshape(tf.slice(stats, 2 * rows, rows), r.keptShape),
    }),
  };
}

/**
 * Layer normalization (Keras's LayerNormalization, tf.layers.layerNormalization's formula):
 * y = act(γ·(x − mean)·invStd + β (+ z)) with the mean and biased variance of each row of the
 * normalized axes, differentiable with respect to x, γ, β and z. On the 'webgpu' backend it runs
 * this library's kernels on TF.js's own GPUDevice and tensor buffers, recorded into TF.js's command
 * encoder; on 'cpu' the library's CPU path; on other backends, and for axes that are not x's
 * trailing ones, the same formulas with stock ops. γ or β may be null (ones / zeros).
 */
export function layerNorm(x: tf.Tensor, gamma?: tf.Tensor | null, beta?: tf.Tensor | null, options: LayerNormOpOptions = {}): LayerNormOpResult {
  return tf.tidy(() => {
    const core = layerNormCore(x, gamma, beta, options);
    return { y: core.y, ...core.statistics() } as unknown as tf.TensorContainer;
  }) as unknown as LayerNormOpResult;
}
