import { BatchNormError } from '../errors';
import { asFloat32 } from '../options';
import { channelAxis, isLayout } from '../layout';
import type { Convention, FloatInput, Layout } from '../types';
import type { NormFamily } from './norm-api';
import { normActivations } from './norm-options';
import type { NormActivation, NormBackwardResult, NormForwardResult, NormSaved } from './norm-types';

/**
 * PyTorch's state-dict names of a norm layer: weight and bias (those the layer has); an
 * InstanceNormLayer with running statistics adds running_mean, running_var and num_batches_tracked.
 */
export interface NormStateDict {
  weight?: Float32Array;
  bias?: Float32Array;
  running_mean?: Float32Array;
  running_var?: Float32Array;
  num_batches_tracked?: number;
}

/**
 * The same in Keras's names: gamma and beta (LayerNormalization, GroupNormalization), scale
 * (RMSNormalization), and BatchNormalization's names for running statistics.
 */
export interface KerasNormWeights {
  gamma?: Float32Array;
  beta?: Float32Array;
  scale?: Float32Array;
  moving_mean?: Float32Array;
  moving_variance?: Float32Array;
}

/** What loadStateDict takes: the arrays may be arrays of numbers. */
export type NormStateDictInput = { [K in keyof NormStateDict]?: K extends 'num_batches_tracked' ? number : FloatInput };
/** What loadKerasWeights takes. */
export type KerasNormWeightsInput = { [K in keyof KerasNormWeights]?: FloatInput };

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

/** nn.RMSNorm's arguments (Keras: RMSNormalization). */
export interface RmsNormLayerOptions extends NormLayerCommon {
  /** The trailing dims normalized over (an integer for one dim). */
  normalizedShape: number | readonly number[];
  /** Learnable γ (Keras: scale); default true. */
  elementwiseAffine?: boolean;
}

/**
 * Where group and instance norm layers find the channels: `layout` ('NCHW', 'NHWC', …) or Keras's
 * `axis` (1 or -1); default axis 1, channels first.
 */
interface ChannelAxisOptions {
  layout?: Layout;
  axis?: number;
}

/** nn.InstanceNorm1d/2d/3d's arguments. */
export interface InstanceNormLayerOptions extends NormLayerCommon, ChannelAxisOptions {
  /** C. */
  numFeatures: number;
  /** Learnable γ and β per channel; default false, as PyTorch's. */
  affine?: boolean;
  /**
   * Keep running statistics (running_mean zeros, running_var ones at first): training forwards
   * update them, and in eval mode the layer normalizes by them; default false, as PyTorch's.
   */
  trackRunningStats?: boolean;
  /** Default per convention, as batch norm's: 0.1 (pytorch), 0.99 (keras), 0.9 (onnx). */
  momentum?: number;
}

/** nn.GroupNorm's arguments (Keras: GroupNormalization, whose axis is -1: channels last). */
export interface GroupNormLayerOptions extends NormLayerCommon, ChannelAxisOptions {
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
  /** Normalized by frozen running statistics (InstanceNormLayer in eval mode). */
  frozen: boolean;
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

  protected keep(x: Float32Array, shape: readonly number[], residual: Float32Array | undefined, out: NormForwardResult, frozen = false): Float32Array {
    this.last = { x, shape: [...shape], residual, saved: out, frozen };
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

  /** Keras's names of weight and bias (RMSNormalization calls its γ `scale`). */
  protected readonly kerasNames: { weight: string; bias: string } = { weight: 'gamma', bias: 'beta' };

  /**
   * The layer's tensors in state-dict order, by PyTorch's and Keras's names: weight and bias (those
   * the layer has); InstanceNormLayer adds its running statistics.
   */
  protected tensors(): { torch: string; keras: string; values: Float32Array }[] {
    const list = [];
    if (this.weight) list.push({ torch: 'weight', keras: this.kerasNames.weight, values: this.weight });
    if (this.bias) list.push({ torch: 'bias', keras: this.kerasNames.bias, values: this.bias });
    return list;
  }

  /** PyTorch's state dict: copies of the layer's tensors. */
  stateDict(): NormStateDict {
    return Object.fromEntries(this.tensors().map((t) => [t.torch, t.values.slice()]));
  }

  /**
   * Loads PyTorch's state dict strictly: exactly the layer's tensors, of their lengths; everything
   * is checked before anything is written.
   */
  loadStateDict(state: NormStateDictInput): void {
    this.load(state, 'torch');
  }

  /** Keras's weights (gamma, beta; RMS norm: scale). */
  kerasWeights(): KerasNormWeights {
    return Object.fromEntries(this.tensors().map((t) => [t.keras, t.values.slice()]));
  }

  loadKerasWeights(weights: KerasNormWeightsInput): void {
    this.load(weights, 'keras');
  }

  /** Checks `given` against the layer's tensors; returns the writes to make (the caller may check more first). */
  protected checkLoad(given: unknown, names: 'torch' | 'keras', extra: readonly string[] = []): () => void {
    if (given === null || typeof given !== 'object') throw new BatchNormError('invalid-option', 'a state dict must be an object');
    const entries = given as Record<string, unknown>;
    const tensors = this.tensors();
    const expected = tensors.map((t) => t[names]);
    const unexpected = Object.keys(entries).filter((k) => entries[k] !== undefined && !expected.includes(k) && !extra.includes(k));
    const missing = expected.filter((k) => entries[k] === undefined);
    if (unexpected.length > 0 || missing.length > 0) {
      throw new BatchNormError('invalid-option', `state dict: expected exactly {${expected.join(', ')}}${missing.length ? `, missing ${missing.join(', ')}` : ''}${unexpected.length ? `, unexpected ${unexpected.join(', ')}` : ''}`);
    }
    const checked = tensors.map((t) => {
      const name = t[names];
      const values = asFloat32(entries[name]);
      if (!values) throw new BatchNormError('invalid-option', `${name} must be a Float32Array or an array of numbers`);
      if (values.length !== t.values.length) throw new BatchNormError('channel-mismatch', `${name} has length ${values.length}, this layer ${t.values.length}`);
      return values;
    });
    return () => tensors.forEach((t, k) => t.values.set(checked[k]));
  }

  protected load(given: unknown, names: 'torch' | 'keras'): void {
    this.checkLoad(given, names)();
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
    const normalizedShape = checkNormalizedShape(options.normalizedShape);
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
 * nn.GroupNorm (Keras GroupNormalization) as a layer, on x (N, C, *), or channels last (N, *, C)
 * with `layout` or `axis: -1`: forward(x, shape), backward(dy) as LayerNormLayer's.
 */
export class GroupNormLayer extends NormLayer {
  readonly options: Readonly<Required<Omit<GroupNormLayerOptions, 'eps' | 'layout' | 'axis'>>> & { eps: number | undefined } & ChannelAxisOptions;

  constructor(norms: NormFamily, options: GroupNormLayerOptions) {
    if (options === null || typeof options !== 'object') throw new BatchNormError('invalid-option', 'GroupNormLayer needs { numGroups, numChannels }');
    const numGroups = checkCount('numGroups', options.numGroups);
    const numChannels = checkCount('numChannels', options.numChannels);
    if (numChannels % numGroups !== 0) throw new BatchNormError('invalid-option', `numGroups (${numGroups}) must divide numChannels (${numChannels})`);
    const affine = checkFlag('affine', options.affine, true);
    super(norms, numChannels, affine, affine);
    this.options = { numGroups, numChannels, affine, eps: options.eps, convention: options.convention ?? 'pytorch', activation: checkActivation(options.activation), layout: options.layout, axis: options.axis };
  }

  private callOptions(shape: readonly number[]) {
    checkChannels(shape, this.options, this.options.numChannels);
    const { numGroups, eps, convention, activation, layout, axis } = this.options;
    return { shape, groups: numGroups, gamma: this.weight, beta: this.bias, eps, convention, activation, layout, axis };
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

/**
 * nn.RMSNorm (Keras RMSNormalization) as a layer: forward(x, shape) over the trailing
 * `normalizedShape`, y = act(x / sqrt(mean(x²) + eps) · γ (+ residual)); backward(dy) returns dx and
 * adds dγ to weightGrad. Keras calls γ `scale`.
 */
export class RmsNormLayer extends NormLayer {
  readonly normalizedShape: readonly number[];
  readonly options: Readonly<Required<Omit<RmsNormLayerOptions, 'eps' | 'normalizedShape'>>> & { eps: number | undefined };
  protected override readonly kerasNames = { weight: 'scale', bias: 'beta' };

  constructor(norms: NormFamily, options: RmsNormLayerOptions) {
    if (options === null || typeof options !== 'object') throw new BatchNormError('invalid-option', 'RmsNormLayer needs { normalizedShape }');
    const normalizedShape = checkNormalizedShape(options.normalizedShape);
    const affine = checkFlag('elementwiseAffine', options.elementwiseAffine, true);
    super(norms, normalizedShape.reduce((a, b) => a * b, 1), affine, false);
    this.normalizedShape = normalizedShape;
    this.options = { elementwiseAffine: affine, eps: options.eps, convention: options.convention ?? 'pytorch', activation: checkActivation(options.activation) };
  }

  private callOptions(shape: readonly number[]) {
    const { eps, convention, activation } = this.options;
    return { shape, normalizedShape: this.normalizedShape, gamma: this.weight, eps, convention, activation };
  }

  /** y = act(RMSNorm(x) + residual); `shape` is x's, ending in normalizedShape. */
  async forward(input: FloatInput, shape: readonly number[], options: { residual?: FloatInput } = {}): Promise<Float32Array> {
    const { x, z } = this.asArrays(input, options?.residual);
    const out = await this.norms.rmsNorm(x, { ...this.callOptions(shape), residual: z });
    return this.keep(x, shape, z, out);
  }

  async backward(dy: FloatInput, options: { dz?: Float32Array } = {}): Promise<Float32Array> {
    const last = this.lastForward(options?.dz);
    const grads = await this.norms.rmsNormBackward(dy, last.x, { ...this.callOptions(last.shape), residual: last.residual }, last.saved);
    return this.accumulate(grads, options?.dz);
  }
}

/**
 * nn.InstanceNorm1d/2d/3d as a layer, on x (N, C, *) or, with `layout` / `axis`, (N, *, C): each (sample, channel)
 * normalized over its spatial positions. With trackRunningStats, training forwards update
 * runningMean and runningVar (in place, only once the call has succeeded) and eval() makes forwards
 * normalize by them, as PyTorch's module does; numBatchesTracked is kept for the state dict and, as
 * PyTorch's InstanceNorm, never advanced. Keras has no instance norm layer: kerasWeights() gives
 * GroupNormalization's gamma, beta and BatchNormalization's moving_mean, moving_variance.
 */
export class InstanceNormLayer extends NormLayer {
  readonly options: Readonly<Required<Omit<InstanceNormLayerOptions, 'eps' | 'momentum' | 'layout' | 'axis'>>> & { eps: number | undefined; momentum: number | undefined } & ChannelAxisOptions;
  readonly runningMean: Float32Array | undefined;
  readonly runningVar: Float32Array | undefined;
  numBatchesTracked = 0;
  training = true;

  constructor(norms: NormFamily, options: InstanceNormLayerOptions) {
    if (options === null || typeof options !== 'object') throw new BatchNormError('invalid-option', 'InstanceNormLayer needs { numFeatures }');
    const numFeatures = checkCount('numFeatures', options.numFeatures);
    const affine = checkFlag('affine', options.affine, false);
    const trackRunningStats = checkFlag('trackRunningStats', options.trackRunningStats, false);
    const momentum = options.momentum;
    if (momentum !== undefined && (typeof momentum !== 'number' || !(momentum >= 0 && momentum <= 1))) {
      throw new BatchNormError('invalid-momentum', `momentum must be in [0, 1], got ${String(momentum)}`);
    }
    super(norms, numFeatures, affine, affine);
    if (trackRunningStats) {
      this.runningMean = new Float32Array(numFeatures);
      this.runningVar = new Float32Array(numFeatures).fill(1);
    }
    this.options = { numFeatures, affine, trackRunningStats, eps: options.eps, momentum, convention: options.convention ?? 'pytorch', activation: checkActivation(options.activation), layout: options.layout, axis: options.axis };
  }

  train(mode = true): this {
    if (typeof mode !== 'boolean') throw new BatchNormError('invalid-option', `train(mode): mode must be a boolean, got ${JSON.stringify(mode)}`);
    this.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  private callOptions(shape: readonly number[], frozen: boolean) {
    checkChannels(shape, this.options, this.options.numFeatures);
    const { eps, convention, activation, momentum, layout, axis } = this.options;
    const running = this.runningMean && this.runningVar ? { runningMean: this.runningMean, runningVar: this.runningVar, momentum, training: !frozen } : {};
    return { shape, gamma: this.weight, beta: this.bias, eps, convention, activation, layout, axis, ...running };
  }

  /** y = act(InstanceNorm(x) + residual); `shape` is x's, (N, C, *). */
  async forward(input: FloatInput, shape: readonly number[], options: { residual?: FloatInput } = {}): Promise<Float32Array> {
    const frozen = !this.training && this.options.trackRunningStats;
    const callOptions = this.callOptions(shape, frozen);
    const { x, z } = this.asArrays(input, options?.residual);
    const out = await this.norms.instanceNorm(x, { ...callOptions, residual: z });
    if (out.runningMean && out.runningVar && !frozen) {
      this.runningMean!.set(out.runningMean);
      this.runningVar!.set(out.runningVar);
    }
    return this.keep(x, shape, z, out, frozen);
  }

  /** dx through the last forward; in eval mode with running statistics, through them as constants. */
  async backward(dy: FloatInput, options: { dz?: Float32Array } = {}): Promise<Float32Array> {
    const last = this.lastForward(options?.dz);
    const grads = await this.norms.instanceNormBackward(dy, last.x, { ...this.callOptions(last.shape, last.frozen), residual: last.residual }, last.saved);
    return this.accumulate(grads, options?.dz);
  }

  protected override tensors(): { torch: string; keras: string; values: Float32Array }[] {
    const list = super.tensors();
    if (this.runningMean && this.runningVar) {
      list.push({ torch: 'running_mean', keras: 'moving_mean', values: this.runningMean }, { torch: 'running_var', keras: 'moving_variance', values: this.runningVar });
    }
    return list;
  }

  /** weight, bias (affine), running_mean, running_var, num_batches_tracked (trackRunningStats). */
  override stateDict(): NormStateDict {
    const state = super.stateDict();
    if (this.options.trackRunningStats) state.num_batches_tracked = this.numBatchesTracked;
    return state;
  }

  /** num_batches_tracked is optional (PyTorch's loader fills in 0 for state dicts without it). */
  protected override load(given: unknown, names: 'torch' | 'keras'): void {
    const withCount = names === 'torch' && this.options.trackRunningStats;
    const write = this.checkLoad(given, names, withCount ? ['num_batches_tracked'] : []);
    const count = withCount ? (given as Record<string, unknown>).num_batches_tracked : undefined;
    if (count !== undefined && (!Number.isSafeInteger(count) || (count as number) < 0)) {
      throw new BatchNormError('invalid-option', `num_batches_tracked must be an integer ≥ 0, got ${String(count)}`);
    }
    write();
    if (count !== undefined) this.numBatchesTracked = count as number;
  }
}

/** The shape's channel count against the layer's (a bad shape, layout or axis is the op's to refuse). */
function checkChannels(shape: readonly number[], where: ChannelAxisOptions, channels: number): void {
  if (!Array.isArray(shape) || shape.length < 2) return;
  const { layout, axis } = where;
  const at = isLayout(layout) ? channelAxis(layout) : typeof axis === 'number' ? (axis < 0 ? axis + shape.length : axis) : 1;
  const given = shape[at];
  if (given !== undefined && given !== channels) throw new BatchNormError('channel-mismatch', `the shape has ${given} channels (axis ${at}), this layer ${channels}`);
}

function checkNormalizedShape(given: unknown): number[] {
  const normalizedShape = typeof given === 'number' ? [given] : Array.isArray(given) ? [...(given as unknown[])] : [];
  if (normalizedShape.length === 0) throw new BatchNormError('invalid-option', `normalizedShape must be a positive integer or a non-empty array of them, got ${JSON.stringify(given)}`);
  return normalizedShape.map((d) => checkCount('normalizedShape', d));
}

function checkActivation(activation: unknown): NormActivation {
  if (activation === undefined) return 'none';
  if (!normActivations.includes(activation as NormActivation)) {
    throw new BatchNormError('invalid-option', `activation must be one of ${normActivations.map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(activation)}`);
  }
  return activation as NormActivation;
}
