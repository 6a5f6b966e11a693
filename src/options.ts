import { conventionDefaults } from './conventions';
import { BatchNormError } from './errors';
import { channelView, type ChannelView } from './layout';
import type { Activation, BatchNormOptions, Convention, Layout } from './types';

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
}

export type PassKind = 'train' | 'inference';

function checkPerChannel(name: string, value: unknown, channels: number): Float32Array | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof Float32Array)) {
    throw new BatchNormError('invalid-option', `${name} must be a Float32Array of length ${channels}`);
  }
  if (value.length !== channels) {
    throw new BatchNormError('channel-mismatch', `${name} has length ${value.length}, expected C = ${channels}`);
  }
  return value;
}

/**
 * eps > 0 and within float32's range, which the GPU holds it in (1e39 would become Infinity there).
 * Values below float32's smallest normal number are allowed: the CPU path uses them as they are,
 * the GPU raises them to 2^-126 (see gpuEps), which matters only for data whose variance is below
 * ~1e-37, i.e. zero in float32 anyway.
 */
export function checkEps(eps: unknown): number {
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps <= 0 || !Number.isFinite(Math.fround(eps))) {
    throw new BatchNormError('invalid-eps', `eps must be a finite number > 0 within float32's range (< 3.4e38), got ${String(eps)}`);
  }
  return eps;
}

/**
 * The eps a GPU uniform gets: at least 2^-126, float32's smallest normal number. A smaller eps
 * would round to 0 (or to a subnormal, which GPUs may flush to 0) and a constant channel would
 * divide by zero, where the CPU path returns y = β.
 */
export function gpuEps(eps: number): number {
  return Math.max(eps, 2 ** -126);
}

const conventions: readonly Convention[] = ['pytorch', 'keras'];
const activations: readonly Activation[] = ['none', 'relu'];

/** The options without per-channel arrays: what the host-array and GPU-resident APIs share. */
export type ScalarOptions = Omit<BatchNormOptions, 'gamma' | 'beta' | 'runningMean' | 'runningVar'>;

export type ResolvedScalarOptions = Omit<ResolvedOptions, 'gamma' | 'beta' | 'runningMean' | 'runningVar'>;

/** Validates shape, layout, convention, activation, eps and momentum, and fills their defaults. */
export function resolveScalarOptions(opts: ScalarOptions, pass: PassKind): ResolvedScalarOptions {
  if (opts === null || typeof opts !== 'object') {
    throw new BatchNormError('invalid-option', 'options object with at least { shape } is required');
  }
  const view = channelView(opts.shape, opts.layout);
  const convention = opts.convention ?? 'pytorch';
  if (!conventions.includes(convention)) {
    throw new BatchNormError('invalid-option', `convention must be 'pytorch' or 'keras', got ${JSON.stringify(convention)}`);
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
  if (pass === 'train' && view.count < 2) {
    throw new BatchNormError(
      'too-few-values',
      `Expected more than 1 value per channel when training, got input size [${opts.shape.join(', ')}]`,
    );
  }
  return { shape: opts.shape, layout: opts.layout, view, eps, momentum, convention, activation };
}

/** Validates the host-array options (scalars and per-channel Float32Arrays). */
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
  return { ...scalars, gamma, beta, runningMean, runningVar };
}

/** Checks the host data array against the resolved shape. */
export function checkInput(name: string, data: unknown, view: ChannelView): Float32Array {
  if (!(data instanceof Float32Array)) {
    throw new BatchNormError('invalid-option', `${name} must be a Float32Array`);
  }
  if (data.length !== view.size) {
    throw new BatchNormError('length-mismatch', `${name} has ${data.length} values, but the shape holds ${view.size}`);
  }
  return data;
}
