import { conventionDefaults } from './conventions';
import { BatchNormError } from './errors';
import { asFloat32, checkEps, checkPerChannel } from './options';
import type { Convention, FloatInput } from './types';

/*
 * Batch norm folded into the weights of a dense or convolution layer next to it, for deployment:
 * inference then needs no normalization at all. In inference batch norm is one affine map per
 * channel, y = s·x + t with s = γ / sqrt(runningVar + eps) and t = β − runningMean·s, so
 * - after a layer z = W·x + b (the usual order): W'[o, …] = s[o]·W[o, …], b'[o] = s[o]·(b[o] − mean[o]) + β[o];
 * - before a layer (z = W·BN(x) + b): W'[o, i, …] = W[o, i, …]·s[i], b'[o] = b[o] + Σ W[o, i, …]·t[i].
 * Everything is computed in float64 and rounded to float32 once per value.
 */

/**
 * How a layer's weights are laid out, by the names of their axes: O output channels, I input
 * channels, H, W, D, L spatial. 'OI…' is PyTorch's (Linear [out, in], Conv2d [out, in, kH, kW]),
 * '…IO' TF.js's and Keras's (Dense kernel [in, out], Conv2D kernel [kH, kW, in, out]).
 */
export type WeightLayout = 'OI' | 'IO' | 'OIL' | 'LIO' | 'OIHW' | 'HWIO' | 'OIDHW' | 'DHWIO';

export const weightLayouts: readonly WeightLayout[] = ['OI', 'IO', 'OIL', 'LIO', 'OIHW', 'HWIO', 'OIDHW', 'DHWIO'];

/** The layer's parameters: `bias` absent means zeros. */
export interface LayerWeights {
  weight: FloatInput;
  bias?: FloatInput;
}

/**
 * The batch norm's inference state, named as in the rest of the library: γ (default ones), β
 * (default zeros), the running statistics (required), eps (default: the convention's).
 */
export interface BatchNormState {
  gamma?: FloatInput;
  beta?: FloatInput;
  runningMean: FloatInput;
  runningVar: FloatInput;
  eps?: number;
  /** Only picks eps's default: 1e-5 (pytorch, onnx) or 1e-3 (keras). Default 'pytorch'. */
  convention?: Convention;
}

export interface FoldOptions {
  layout: WeightLayout;
  /**
   * The weight's shape in `layout`'s axis order; checked when given. Needed only to fold a batch
   * norm that comes before a convolution (to tell input channels from kernel positions).
   */
  shape?: readonly number[];
  /** Where the batch norm is: 'after' the layer (default: conv → BN), or 'before' it (BN → dense). */
  batchNorm?: 'after' | 'before';
}

/** New arrays; the inputs are never modified. `bias` has one value per output channel. */
export interface FoldedWeights {
  weight: Float32Array;
  bias: Float32Array;
}

/** Axis sizes of the weight: output channels O, input channels I, S kernel positions. */
interface WeightGeometry {
  outputs: number;
  inputs: number;
  positions: number;
  /** O is the first axis (PyTorch's order) or the last (TF.js's and Keras's). */
  outputFirst: boolean;
}

function geometry(layout: WeightLayout, length: number, channels: number, where: 'after' | 'before', shape: readonly number[] | undefined): WeightGeometry {
  const outputFirst = layout.startsWith('O');
  if (shape !== undefined) {
    if (!Array.isArray(shape) || shape.length !== layout.length || !shape.every((d) => Number.isSafeInteger(d) && d >= 1)) {
      throw new BatchNormError('invalid-shape', `shape must be ${layout.length} positive integers (${layout}), got ${JSON.stringify(shape)}`);
    }
    const size = shape.reduce((a, b) => a * b, 1);
    if (size !== length) throw new BatchNormError('length-mismatch', `weight has ${length} values, but the shape [${shape.join(', ')}] holds ${size}`);
    const outputs = shape[layout.indexOf('O')];
    const inputs = shape[layout.indexOf('I')];
    const bnAxis = where === 'after' ? 'O' : 'I';
    const bnSize = where === 'after' ? outputs : inputs;
    if (bnSize !== channels) {
      throw new BatchNormError('channel-mismatch', `the batch norm has ${channels} channels, the weight's ${bnAxis} axis ${bnSize} (shape [${shape.join(', ')}], ${layout})`);
    }
    return { outputs, inputs, positions: length / (outputs * inputs), outputFirst };
  }
  if (length % channels !== 0 || length === 0) {
    throw new BatchNormError('length-mismatch', `weight has ${length} values, not a multiple of the batch norm's ${channels} channels`);
  }
  if (where === 'after') return { outputs: channels, inputs: length / channels, positions: 1, outputFirst };
  if (layout.length > 2) {
    throw new BatchNormError('invalid-shape', `folding a batch norm before a ${layout} convolution needs the weight's shape (to tell input channels from kernel positions)`);
  }
  return { outputs: length / channels, inputs: channels, positions: 1, outputFirst };
}

function checkArray(name: string, value: unknown): Float32Array {
  const values = asFloat32(value);
  if (!values) throw new BatchNormError('invalid-option', `${name} must be a Float32Array or an array of numbers`);
  return values;
}

/** s = γ / sqrt(var + eps) and t = β − mean·s per channel, in float64. */
function channelAffine(state: BatchNormState): { scale: Float64Array; shift: Float64Array } {
  if (state === null || typeof state !== 'object') throw new BatchNormError('invalid-option', 'the batch norm state { runningMean, runningVar, gamma?, beta?, eps? } is required');
  if (state.runningMean === undefined || state.runningVar === undefined) {
    throw new BatchNormError('missing-running-stats', 'folding needs the running statistics: runningMean and runningVar');
  }
  const convention = state.convention ?? 'pytorch';
  if (!Object.prototype.hasOwnProperty.call(conventionDefaults, convention)) {
    throw new BatchNormError('invalid-option', `convention must be 'pytorch', 'keras' or 'onnx', got ${JSON.stringify(convention)}`);
  }
  const eps = checkEps(state.eps ?? conventionDefaults[convention].eps);
  const mean = checkArray('runningMean', state.runningMean);
  const C = mean.length;
  if (C === 0) throw new BatchNormError('channel-mismatch', 'runningMean is empty');
  const variance = checkPerChannel('runningVar', state.runningVar, C)!;
  const gamma = checkPerChannel('gamma', state.gamma, C);
  const beta = checkPerChannel('beta', state.beta, C);
  const scale = new Float64Array(C);
  const shift = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    scale[c] = (gamma ? gamma[c] : 1) / Math.sqrt(variance[c] + eps);
    shift[c] = (beta ? beta[c] : 0) - mean[c] * scale[c];
  }
  return { scale, shift };
}

/**
 * Folds a batch norm into the weights of the dense or convolution layer before it (or, with
 * `batchNorm: 'before'`, after it), so that the layer alone computes what both did in inference.
 * Every argument is checked before anything is computed; a mismatch throws a BatchNormError
 * (`channel-mismatch`, `length-mismatch`, `invalid-shape`, `invalid-layout`, `invalid-option`,
 * `missing-running-stats`, `invalid-eps`). A zero variance with eps 0 gives non-finite weights, as
 * the unfolded pair gives non-finite outputs.
 *
 *   // PyTorch: Conv2d weight [out, in, kH, kW] followed by BatchNorm2d
 *   const { weight, bias } = foldBatchNorm({ weight: convWeight }, { gamma, beta, runningMean, runningVar }, { layout: 'OIHW' });
 */
export function foldBatchNorm(layer: LayerWeights, state: BatchNormState, options: FoldOptions): FoldedWeights {
  if (options === null || typeof options !== 'object') throw new BatchNormError('invalid-option', 'fold options { layout } are required');
  const { layout } = options;
  if (!weightLayouts.includes(layout)) {
    throw new BatchNormError('invalid-layout', `unknown weight layout ${JSON.stringify(layout)}; expected one of ${weightLayouts.join(', ')}`);
  }
  const where = options.batchNorm ?? 'after';
  if (where !== 'after' && where !== 'before') throw new BatchNormError('invalid-option', `batchNorm must be 'after' or 'before', got ${JSON.stringify(where)}`);
  if (layer === null || typeof layer !== 'object') throw new BatchNormError('invalid-option', 'the layer { weight, bias? } is required');
  const weight = checkArray('weight', layer.weight);
  const { scale, shift } = channelAffine(state);
  const C = scale.length;
  const g = geometry(layout, weight.length, C, where, options.shape);
  const bias = layer.bias === undefined ? undefined : checkPerChannel('bias', layer.bias, g.outputs);

  const { outputs, inputs, positions, outputFirst } = g;
  // Flat index → (output channel, input channel): O·I·S (O first) or S·I·O (O last).
  const outputOf = outputFirst ? (k: number) => Math.floor(k / (inputs * positions)) : (k: number) => k % outputs;
  const inputOf = outputFirst ? (k: number) => Math.floor(k / positions) % inputs : (k: number) => Math.floor(k / outputs) % inputs;
  const folded = new Float32Array(weight.length);
  const newBias = new Float64Array(outputs);
  for (let o = 0; o < outputs; o++) newBias[o] = bias ? bias[o] : 0;
  if (where === 'after') {
    for (let k = 0; k < weight.length; k++) folded[k] = weight[k] * scale[outputOf(k)];
    // s·(b − mean) + β, as s·b + t.
    for (let o = 0; o < outputs; o++) newBias[o] = scale[o] * newBias[o] + shift[o];
  } else {
    for (let k = 0; k < weight.length; k++) {
      const i = inputOf(k);
      folded[k] = weight[k] * scale[i];
      newBias[outputOf(k)] += weight[k] * shift[i];
    }
  }
  return { weight: folded, bias: Float32Array.from(newBias) };
}
