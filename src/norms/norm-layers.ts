import { BatchNormError } from '../errors';
import { asFloat32 } from '../options';
import type { Convention, FloatInput } from '../types';
import type { NormFamily } from './norm-api';
import { normActivations } from './norm-options';
import type { NormActivation, NormBackwardResult, NormForwardResult, NormSaved } from './norm-types';

/** PyTorch's state-dict names of a LayerNorm / GroupNorm layer. */
export interface NormStateDict {
  weight?: Float32Array;
  bias?: Float32Array;
}

/** The same in Keras's names (LayerNormalization / GroupNormalization get_weights()). */
export interface KerasNormWeights {
  gamma?: Float32Array;
  beta?: Float32Array;
}

interface NormLayerCommon {
  /** Default per convention: 1e-5 (pytorch, onnx), 1e-3 (keras). */
  eps?: number;
  convention?: Convention;
  activation?: NormActivation;
}

/** nn.LayerNorm's arguments (Keras: LayerNormalization with scale / center). */
export interface LayerNormLayerOptions extends NormLayerCommon {
  /** The trailing dims normalized over (an integer for one dim). */
  normalizedShape: number | readonly number[];
  /** Learnable γ (and β, unless `bias` is false); default true. Keras: scale. */
  elementwiseAffine?: boolean;
  /** Learnable β; default true (PyTorch ≥ 2.1's `bias`). Keras: center. */
  bias?: boolean;
}

/** nn.GroupNorm's arguments (Keras: GroupNormalization). */
export interface GroupNormLayerOptions extends NormLayerCommon {
  numGroups: number;
  numChannels: number;
  /** Learnable γ and β per channel; default true. */
  affine?: boolean;
}

interface LastForward {
  x: Float32Array;
  shape: number[];
  /** The forward's z: gelu, gelu-tanh and silu recompute their input from it. */
  residual: Float32Array | undefined;
  saved: NormSaved;
}

function checkFlag(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new BatchNormError('invalid-option', `${name} must be a boolean, got ${JSON.stringify(value)}`);
  return value;
}

function checkCount(name: string, value: unknown): number {
  if (!Number.isSafeInteger(value) || (value as number) < 1) throw new BatchNormError('invalid-option', `${name} must be a positive integer, got ${String(value)}`);
  return value as number;
}

/**
 * What LayerNormLayer and GroupNormLayer share: learnable γ and β (updated in place, so an
 * optimizer can hold them), their accumulated gradients, the last forward for the backward, and
 * state dicts in PyTorch's and Keras's names. The math is the engine's (`bn.norms`): on the GPU
 * when it has the norm kernels, else on the CPU path.
 */
abstract class NormLayer {
  readonly weight: Float32Array | undefined;
  readonly bias: Float32Array | undefined;
  readonly weightGrad: Float32Array | undefined;
  readonly biasGrad: Float32Array | undefined;
  protected last: LastForward | undefined;

  protected constructor(
    protected readonly norms: NormFamily,
    /** γ's and β's length. */
    readonly numParams: number,
    weight: boolean,
    bias: boolean,
  ) {
    if (weight) {
      this.weight = new Float32Array(numParams).fill(1);
      this.weightGrad = new Float32Array(numParams);
    }
    if (bias) {
      this.bias = new Float32Array(numParams);
      this.biasGrad = new Float32Array(numParams);
    }
  }

  /** x and z as the backward will read them (a bad one is refused by the call itself). */
  protected asArrays(input: FloatInput, residual: FloatInput | undefined): { x: Float32Array; z: Float32Array | undefined } {
    const x = asFloat32(input) ?? (input as Float32Array);
    const z = residual === undefined ? undefined : (asFloat32(residual) ?? (residual as Float32Array));
    return { x, z };
  }

  protected keep(x: Float32Array, shape: readonly number[], residual: Float32Array | undefined, out: NormForwardResult): Float32Array {
    this.last = { x, shape: [...shape], residual, saved: out };
    return out.y;
  }

  protected lastForward(dz: unknown): LastForward {
    const last = this.last;
    if (!last) throw new BatchNormError('invalid-option', 'backward needs a forward first');
    if (dz !== undefined && !(dz instanceof Float32Array)) throw new BatchNormError('invalid-option', 'dz must be a Float32Array');
    if (dz !== undefined && !last.residual) throw new BatchNormError('invalid-option', 'backward was given dz, but the last forward had no residual');
    return last;
  }

  /** dγ and dβ added to the gradients (one float32 addition each), dz written when asked. */
  protected accumulate(grads: NormBackwardResult, dz: Float32Array | undefined): Float32Array {
    if (this.weightGrad) for (let p = 0; p < this.numParams; p++) this.weightGrad[p] += grads.dgamma[p];
    if (this.biasGrad && grads.dbeta) for (let p = 0; p < this.numParams; p++) this.biasGrad[p] += grads.dbeta[p];
    if (dz && grads.dz) dz.set(grads.dz);
    return grads.dx;
  }

  zeroGrad(): void {
    this.weightGrad?.fill(0);
    this.biasGrad?.fill(0);
  }

  /** PyTorch's state dict: copies of weight and bias (those the layer has). */
  stateDict(): NormStateDict {
    const state: NormStateDict = {};
    if (this.weight) state.weight = this.weight.slice();
    if (this.bias) state.bias = this.bias.slice();
    return state;
  }

  /**
   * Loads PyTorch's state dict strictly: exactly the layer's parameters, of its length; everything
   * is checked before anything is written.
   */
  loadStateDict(state: { weight?: FloatInput; bias?: FloatInput }): void {
    this.load(state, { weight: 'weight', bias: 'bias' });
  }

  /** Keras's weights (gamma, beta). */
  kerasWeights(): KerasNormWeights {
    const weights: KerasNormWeights = {};
    if (this.weight) weights.gamma = this.weight.slice();
    if (this.bias) weights.beta = this.bias.slice();
    return weights;
  }

  loadKerasWeights(weights: { gamma?: FloatInput; beta?: FloatInput }): void {
    this.load(weights, { weight: 'gamma', bias: 'beta' });
  }

  private load(given: unknown, names: { weight: string; bias: string }): void {
    if (given === null || typeof given !== 'object') throw new BatchNormError('invalid-option', 'a state dict must be an object');
    const entries = given as Record<string, unknown>;
    const expected = [this.weight && names.weight, this.bias && names.bias].filter((n): n is string => Boolean(n));
    const unexpected = Object.keys(entries).filter((k) => entries[k] !== undefined && !expected.includes(k));
    const missing = expected.filter((k) => entries[k] === undefined);
    if (unexpected.length > 0 || missing.length > 0) {
      throw new BatchNormError('invalid-option', `state dict: expected exactly {${expected.join(', ')}}${missing.length ? `, missing ${missing.join(', ')}` : ''}${unexpected.length ? `, unexpected ${unexpected.join(', ')}` : ''}`);
    }
    const checked = expected.map((name) => {
      const values = asFloat32(entries[name]);
      if (!values) throw new BatchNormError('invalid-option', `${name} must be a Float32Array or an array of numbers`);
      if (values.length !== this.numParams) throw new BatchNormError('channel-mismatch', `${name} has length ${values.length}, this layer ${this.numParams}`);
      return values;
    });
    if (this.weight) this.weight.set(checked[0]);
    if (this.bias) this.bias.set(checked[checked.length - 1]);
  }
}

/**
 * nn.LayerNorm (Keras LayerNormalization) as a layer: forward(x, shape) normalizes over the
 * trailing `normalizedShape`, backward(dy) returns dx and adds dγ, dβ to weightGrad, biasGrad.
 */
export class LayerNormLayer extends NormLayer {
  readonly normalizedShape: readonly number[];
  readonly options: Readonly<Required<Omit<LayerNormLayerOptions, 'eps' | 'normalizedShape'>>> & { eps: number | undefined };

  constructor(norms: NormFamily, options: LayerNormLayerOptions) {
    if (options === null || typeof options !== 'object') throw new BatchNormError('invalid-option', 'LayerNormLayer needs { normalizedShape }');
    const given = options.normalizedShape;
    const normalizedShape = typeof given === 'number' ? [given] : Array.isArray(given) ? [...given] : [];
    if (normalizedShape.length === 0) throw new BatchNormError('invalid-option', `normalizedShape must be a positive integer or a non-empty array of them, got ${JSON.stringify(given)}`);
    normalizedShape.forEach((d) => checkCount('normalizedShape', d));
    const affine = checkFlag('elementwiseAffine', options.elementwiseAffine, true);
    const bias = checkFlag('bias', options.bias, true);
    super(norms, normalizedShape.reduce((a, b) => a * b, 1), affine, affine && bias);
    this.normalizedShape = normalizedShape;
    this.options = { elementwiseAffine: affine, bias, eps: options.eps, convention: options.convention ?? 'pytorch', activation: checkActivation(options.activation) };
  }

  private callOptions(shape: readonly number[]) {
    const { eps, convention, activation } = this.options;
    return { shape, normalizedShape: this.normalizedShape, gamma: this.weight, beta: this.bias, eps, convention, activation };
  }

  /** y = act(LayerNorm(x) + residual); `shape` is x's, ending in normalizedShape. */
  async forward(input: FloatInput, shape: readonly number[], options: { residual?: FloatInput } = {}): Promise<Float32Array> {
    const { x, z } = this.asArrays(input, options?.residual);
    const out = await this.norms.layerNorm(x, { ...this.callOptions(shape), residual: z });
    return this.keep(x, shape, z, out);
  }

  /** dx through the last forward (whose x and residual must still hold their values); `dz` receives the residual's gradient. */
  async backward(dy: FloatInput, options: { dz?: Float32Array } = {}): Promise<Float32Array> {
    const last = this.lastForward(options?.dz);
    const grads = await this.norms.layerNormBackward(dy, last.x, { ...this.callOptions(last.shape), residual: last.residual }, last.saved);
    return this.accumulate(grads, options?.dz);
  }
}

/**
 * nn.GroupNorm (Keras GroupNormalization) as a layer, on channels-first x (N, C, *):
 * forward(x, shape), backward(dy) as LayerNormLayer's.
 */
export class GroupNormLayer extends NormLayer {
  readonly options: Readonly<Required<Omit<GroupNormLayerOptions, 'eps'>>> & { eps: number | undefined };

  constructor(norms: NormFamily, options: GroupNormLayerOptions) {
    if (options === null || typeof options !== 'object') throw new BatchNormError('invalid-option', 'GroupNormLayer needs { numGroups, numChannels }');
    const numGroups = checkCount('numGroups', options.numGroups);
    const numChannels = checkCount('numChannels', options.numChannels);
    if (numChannels % numGroups !== 0) throw new BatchNormError('invalid-option', `numGroups (${numGroups}) must divide numChannels (${numChannels})`);
    const affine = checkFlag('affine', options.affine, true);
    super(norms, numChannels, affine, affine);
    this.options = { numGroups, numChannels, affine, eps: options.eps, convention: options.convention ?? 'pytorch', activation: checkActivation(options.activation) };
  }

  private callOptions(shape: readonly number[]) {
    if (Array.isArray(shape) && shape.length >= 2 && shape[1] !== this.options.numChannels) {
      throw new BatchNormError('channel-mismatch', `the shape has ${shape[1]} channels, this layer ${this.options.numChannels}`);
    }
    const { numGroups, eps, convention, activation } = this.options;
    return { shape, groups: numGroups, gamma: this.weight, beta: this.bias, eps, convention, activation };
  }

  /** y = act(GroupNorm(x) + residual); `shape` is x's, (N, C, *). */
  async forward(input: FloatInput, shape: readonly number[], options: { residual?: FloatInput } = {}): Promise<Float32Array> {
    const callOptions = this.callOptions(shape);
    const { x, z } = this.asArrays(input, options?.residual);
    const out = await this.norms.groupNorm(x, { ...callOptions, residual: z });
    return this.keep(x, shape, z, out);
  }

  async backward(dy: FloatInput, options: { dz?: Float32Array } = {}): Promise<Float32Array> {
    const last = this.lastForward(options?.dz);
    const grads = await this.norms.groupNormBackward(dy, last.x, { ...this.callOptions(last.shape), residual: last.residual }, last.saved);
    return this.accumulate(grads, options?.dz);
  }
}

function checkActivation(activation: unknown): NormActivation {
  if (activation === undefined) return 'none';
  if (!normActivations.includes(activation as NormActivation)) {
    throw new BatchNormError('invalid-option', `activation must be one of ${normActivations.map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(activation)}`);
  }
  return activation as NormActivation;
}
