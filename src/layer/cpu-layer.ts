import { resolveBackwardOptions, type CheckedSaved } from '../backward-options';
import { cpuBackward } from '../cpu/backward';
import { cpuForwardInference, cpuForwardTrain } from '../cpu/forward';
import { BatchNormError } from '../errors';
import { checkInput, resolveOptions } from '../options';
import type { BackwardMode, FloatInput } from '../types';
import { checkLayerState } from './layer-state-check';
import { resolveLayerOptions, type BatchNormLayerOptions, type ResolvedLayerOptions } from './layer-options';
import type { LayerGradients, LayerGradientsInput, LayerSnapshot } from './layer-snapshot';
import type { BatchNormStateDict, BatchNormStateDictInput } from './state-dict';

interface SavedForward {
  x: Float32Array;
  shape: number[];
  mode: BackwardMode;
  /** What the backward reads of the forward: its statistics in training, its output y (relu mask). */
  kept: CheckedSaved;
  /** Whether the forward added a residual (its backward may then write dz). */
  residual: boolean;
}

/**
 * The CPU twin of BatchNormLayer: the same options, state and semantics on Float32Arrays, computed
 * by the CPU path (float64 accumulation, float32 storage). It takes over a GPU layer's state when
 * the device is lost (see TrainingMirror) and hands it back to a new GPU layer on recovery; it is
 * also a plain host-array layer in its own right. Parameters, gradients and running statistics are
 * updated in place, so a CpuOptimizer can hold `weight` and `bias` directly.
 */
export class CpuBatchNormLayer {
  readonly options: ResolvedLayerOptions;
  readonly weight: Float32Array | undefined;
  readonly bias: Float32Array | undefined;
  readonly weightGrad: Float32Array | undefined;
  readonly biasGrad: Float32Array | undefined;
  readonly runningMean: Float32Array | undefined;
  readonly runningVar: Float32Array | undefined;
  numBatchesTracked = 0;
  training = true;
  private saved: SavedForward | undefined;

  constructor(options: BatchNormLayerOptions) {
    this.options = resolveLayerOptions(options);
    const C = this.options.numFeatures;
    if (this.options.affine) {
      this.weight = new Float32Array(C).fill(1);
      this.bias = new Float32Array(C);
      this.weightGrad = new Float32Array(C);
      this.biasGrad = new Float32Array(C);
    }
    if (this.options.trackRunningStats) {
      this.runningMean = new Float32Array(C);
      this.runningVar = new Float32Array(C).fill(1);
    }
  }

  /** A layer with `options` holding a snapshot's state, gradients and mode. */
  static fromSnapshot(options: BatchNormLayerOptions, snapshot: LayerSnapshot): CpuBatchNormLayer {
    const layer = new CpuBatchNormLayer(options);
    layer.loadSnapshot(snapshot);
    return layer;
  }

  train(mode = true): this {
    if (typeof mode !== 'boolean') throw new BatchNormError('invalid-option', `train(mode): mode must be a boolean, got ${JSON.stringify(mode)}`);
    this.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /**
   * y = BN(x), or act(BN(x) + residual) with `options.residual` (x's size), exactly as
   * BatchNormLayer.forward decides between batch and running statistics.
   */
  forward(input: FloatInput, shape: readonly number[], options: { residual?: FloatInput } = {}): Float32Array {
    if (options === null || typeof options !== 'object') throw new BatchNormError('invalid-option', "forward's options must be an object");
    const o = this.options;
    const useBatchStats = this.training || !o.trackRunningStats;
    const updating = this.training && o.trackRunningStats;
    const batches = this.numBatchesTracked + (updating ? 1 : 0);
    const residual = options.residual;
    const common = { shape, layout: o.layout, eps: o.eps, convention: o.convention, activation: o.activation, gamma: this.weight, beta: this.bias, residual };
    if (!useBatchStats) {
      const resolved = resolveOptions({ ...common, runningMean: this.runningMean, runningVar: this.runningVar }, 'inference');
      this.checkChannels(resolved.view.channels);
      const x = checkInput('x', input, resolved.view);
      const y = cpuForwardInference(x, resolved);
      this.saved = { x, shape: [...shape], mode: 'eval', kept: { y }, residual: residual !== undefined };
      return y;
    }
    const momentum = updating ? (o.momentum ?? 1 / batches) : 0;
    const running = updating ? { runningMean: this.runningMean, runningVar: this.runningVar } : {};
    const resolved = resolveOptions({ ...common, momentum, ...running }, 'train');
    this.checkChannels(resolved.view.channels);
    const x = checkInput('x', input, resolved.view);
    const out = cpuForwardTrain(x, resolved);
    if (updating) {
      this.runningMean!.set(out.runningMean!);
      this.runningVar!.set(out.runningVar!);
    }
    this.numBatchesTracked = batches;
    this.saved = { x, shape: [...shape], mode: 'train', kept: { mean: out.mean, invStd: out.invStd, y: out.y }, residual: residual !== undefined };
    return out.y;
  }

  /**
   * dx from dy through the last forward (whose x, and y with activation 'relu', must still hold the
   * same values); dγ and dβ are added to weightGrad and biasGrad. After a forward with a residual,
   * `options.dz` (a Float32Array of x's size) receives the residual's gradient, as
   * BatchNormLayer.backward's dz buffer does.
   */
  backward(dyInput: FloatInput, options: { dz?: Float32Array } = {}): Float32Array {
    const saved = this.saved;
    if (!saved) throw new BatchNormError('invalid-option', 'backward needs a forward first');
    if (options === null || typeof options !== 'object') throw new BatchNormError('invalid-option', "backward's options must be an object");
    const { dz } = options;
    if (dz !== undefined && !(dz instanceof Float32Array)) throw new BatchNormError('invalid-option', 'dz must be a Float32Array');
    if (dz !== undefined && !saved.residual) throw new BatchNormError('invalid-option', 'backward was given dz, but the last forward had no residual');
    const o = this.options;
    const resolved = resolveBackwardOptions({
      shape: saved.shape,
      layout: o.layout,
      eps: o.eps,
      convention: o.convention,
      activation: o.activation,
      mode: saved.mode,
      gamma: this.weight,
      beta: this.bias,
      runningMean: saved.mode === 'eval' ? this.runningMean : undefined,
      runningVar: saved.mode === 'eval' ? this.runningVar : undefined,
      residual: dz,
    });
    const dy = checkInput('dy', dyInput, resolved.view);
    const grads = cpuBackward(dy, saved.x, resolved, saved.kept);
    // One float32 addition each, as backward-finalize.wgsl accumulates.
    if (this.weightGrad) for (let c = 0; c < grads.dgamma.length; c++) this.weightGrad[c] += grads.dgamma[c];
    if (this.biasGrad) for (let c = 0; c < grads.dbeta.length; c++) this.biasGrad[c] += grads.dbeta[c];
    if (dz && grads.dz) dz.set(grads.dz);
    return grads.dx;
  }

  zeroGrad(): void {
    this.weightGrad?.fill(0);
    this.biasGrad?.fill(0);
  }

  stateDict(): BatchNormStateDict {
    const state: BatchNormStateDict = {};
    if (this.weight) state.weight = this.weight.slice();
    if (this.bias) state.bias = this.bias.slice();
    if (this.runningMean) state.running_mean = this.runningMean.slice();
    if (this.runningVar) state.running_var = this.runningVar.slice();
    if (this.options.trackRunningStats) state.num_batches_tracked = this.numBatchesTracked;
    return state;
  }

  /** Loads a state dict; everything is checked before anything is written. */
  loadStateDict(state: BatchNormStateDictInput): void {
    const checked = checkLayerState(this.options, state);
    for (const [name, values] of checked.arrays) this.arrayOf(name)!.set(values);
    if (checked.batches !== undefined) this.numBatchesTracked = checked.batches;
  }

  gradients(): LayerGradients {
    return { weight: this.weightGrad?.slice(), bias: this.biasGrad?.slice() };
  }

  loadGradients(grads: LayerGradientsInput): void {
    const checked = checkLayerState(this.options, { weight: grads.weight, bias: grads.bias }, 'gradient');
    for (const [name, values] of checked.arrays) (name === 'weight' ? this.weightGrad : this.biasGrad)!.set(values);
  }

  snapshot(): LayerSnapshot {
    return { state: this.stateDict(), grads: this.gradients(), training: this.training };
  }

  loadSnapshot(snapshot: LayerSnapshot): void {
    this.loadStateDict(snapshot.state);
    this.loadGradients(snapshot.grads);
    this.train(snapshot.training);
  }

  private arrayOf(name: string): Float32Array | undefined {
    return { weight: this.weight, bias: this.bias, running_mean: this.runningMean, running_var: this.runningVar }[name];
  }

  private checkChannels(channels: number): void {
    if (channels !== this.options.numFeatures) {
      throw new BatchNormError('channel-mismatch', `the shape has ${channels} channels, this layer ${this.options.numFeatures}`);
    }
  }
}
