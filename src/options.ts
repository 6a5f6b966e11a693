import { conventionDefaults } from './conventions';
import { BatchNormError } from './errors';
import { channelView, type ChannelView } from './layout';
import { checkFloat16 } from './float16';
import type { Activation, BatchNormOptions, Convention, Layout, TensorDtype } from './types';

/**
 * Options after validation, with every default filled in. Produced before any GPU work, so a bad
 * argument never leaves half-written buffers or running statistics behind.
 */
export interface ResolvedOptions {
  shape: readonly number[];
  layout: Layout | undefined;
  view: ChannelView;
  gamma: Float32Array | undefined;
  beta: Float32Array | undefined;
  eps: number;
  momentum: number;
  convention: Convention;
  activation: Activation;
  runningMean: Float32Array | undefined;
  runningVar: Float32Array | undefined;
  /** z of y = act(BN(x) + z), checked against x's size (float16 ones decoded). */
  residual: Float32Array | undefined;
  /** How the tensors are stored; host arrays of float16 are decoded to float32 when checked. */
  dtype: TensorDtype;
}

export type PassKind = 'train' | 'inference';

/**
 * A FloatInput as a Float32Array: a Float32Array as it is (never copied, so inputs stay untouched
 * and cost nothing), an array of numbers converted once; anything else is undefined.
 */
export function asFloat32(value: unknown): Float32Array | undefined {
  if (value instanceof Float32Array) return value;
  if (Array.isArray(value) && value.every((v) => typeof v === 'number')) return Float32Array.from(value as number[]);
  return undefined;
}

export function checkPerChannel(name: string, value: unknown, channels: number): Float32Array | undefined {
  if (value === undefined) return undefined;
  const values = asFloat32(value);
  if (!values) {
    throw new BatchNormError('invalid-option', `${name} must be a Float32Array or an array of numbers of length ${channels}`);
  }
  if (values.length !== channels) {
    throw new BatchNormError('channel-mismatch', `${name} has length ${values.length}, expected C = ${channels}`);
  }
  return values;
}

/**
 * eps ≥ 0 and within float32's range, which the GPU holds it in (1e39 would become Infinity there).
 * 0 is allowed, as PyTorch, TF.js and ONNX allow it: a channel of zero variance then divides by
 * zero (invStd = +Inf, NaN outputs) on every path. Positive values below float32's smallest normal
 * number are allowed too: the CPU path uses them as they are, the GPU raises them to 2^-126 (see
 * gpuEps), which matters only for data whose variance is below ~1e-37, i.e. zero in float32 anyway.
 */
export function checkEps(eps: unknown): number {
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps < 0 || !Number.isFinite(Math.fround(eps))) {
    throw new BatchNormError('invalid-eps', `eps must be a finite number ≥ 0 within float32's range (< 3.4e38), got ${String(eps)}`);
  }
  return eps === 0 ? 0 : eps; // −0 as +0: one program key, one uniform value
}

/**
 * The eps a GPU uniform gets: 0 stays 0 (the caller asked for a division by zero where the variance
 * is 0, and gets it on both paths); a positive eps is at least 2^-126, float32's smallest normal
 * number, since a smaller one would round to 0 (or to a subnormal, which GPUs may flush to 0) and a
 * constant channel would divide by zero, where the CPU path returns y = β.
 */
export function gpuEps(eps: number): number {
  return eps === 0 ? 0 : Math.max(eps, 2 ** -126);
}

const conventions: readonly Convention[] = ['pytorch', 'keras', 'onnx'];
const activations: readonly Activation[] = ['none', 'relu'];
const dtypes: readonly TensorDtype[] = ['float32', 'float16'];

/** The options without per-channel arrays: what the host-array and GPU-resident APIs share. */
export type ScalarOptions = Omit<BatchNormOptions, 'gamma' | 'beta' | 'runningMean' | 'runningVar' | 'residual'>;

export type ResolvedScalarOptions = Omit<ResolvedOptions, 'gamma' | 'beta' | 'runningMean' | 'runningVar' | 'residual'>;

/** Validates shape, layout, convention, activation, eps and momentum, and fills their defaults. */
export function resolveScalarOptions(opts: ScalarOptions, pass: PassKind): ResolvedScalarOptions {
  if (opts === null || typeof opts !== 'object') {
    throw new BatchNormError('invalid-option', 'options object with at least { shape } is required');
  }
  const view = channelView(opts.shape, opts.layout);
  const convention = opts.convention ?? 'pytorch';
  if (!conventions.includes(convention)) {
    throw new BatchNormError('invalid-option', `convention must be 'pytorch', 'keras' or 'onnx', got ${JSON.stringify(convention)}`);
  }
  const activation = opts.activation ?? 'none';
  if (!activations.includes(activation)) {
    throw new BatchNormError('invalid-option', `activation must be 'none' or 'relu', got ${JSON.stringify(activation)}`);
  }
  const eps = checkEps(opts.eps ?? conventionDefaults[convention].eps);
  const momentum = opts.momentum ?? conventionDefaults[convention].momentum;
  if (typeof momentum !== 'number' || !(momentum >= 0 && momentum <= 1)) {
    throw new BatchNormError('invalid-momentum', `momentum must be in [0, 1], got ${momentum}`);
  }
  const dtype = opts.dtype ?? 'float32';
  if (!dtypes.includes(dtype)) {
    throw new BatchNormError('invalid-option', `dtype must be 'float32' or 'float16', got ${JSON.stringify(dtype)}`);
  }
  if (pass === 'train' && view.count < 2) {
    throw new BatchNormError(
      'too-few-values',
      `Expected more than 1 value per channel when training, got input size [${opts.shape.join(', ')}]`,
    );
  }
  return { shape: opts.shape, layout: opts.layout, view, eps, momentum, convention, activation, dtype };
}

/** Validates the host-array options (scalars and per-channel arrays, returned as Float32Arrays). */
export function resolveOptions(opts: BatchNormOptions, pass: PassKind): ResolvedOptions {
  const scalars = resolveScalarOptions(opts, pass);
  const C = scalars.view.channels;
  const gamma = checkPerChannel('gamma', opts.gamma, C);
  const beta = checkPerChannel('beta', opts.beta, C);
  const runningMean = checkPerChannel('runningMean', opts.runningMean, C);
  const runningVar = checkPerChannel('runningVar', opts.runningVar, C);
  if ((runningMean === undefined) !== (runningVar === undefined)) {
    throw new BatchNormError('missing-running-stats', 'runningMean and runningVar must be given together');
  }
  if (pass === 'inference' && runningMean === undefined) {
    throw new BatchNormError('missing-running-stats', 'forwardInference needs runningMean and runningVar');
  }
  const residual = opts.residual === undefined ? undefined : checkInput('residual', opts.residual, scalars.view, scalars.dtype);
  return { ...scalars, gamma, beta, runningMean, runningVar, residual };
}

/**
 * Checks a host data array against the resolved shape; returns it as a Float32Array (a float16
 * array of dtype 'float16' decoded, exactly).
 */
export function checkInput(name: string, data: unknown, view: ChannelView, dtype: TensorDtype = 'float32'): Float32Array {
  const values = dtype === 'float16' ? checkFloat16(name, data) : asFloat32(data);
  if (!values) {
    throw new BatchNormError('invalid-option', `${name} must be a Float32Array or an array of numbers`);
  }
  if (values.length !== view.size) {
    throw new BatchNormError('length-mismatch', `${name} has ${values.length} values, but the shape holds ${view.size}`);
  }
  return values;
}
