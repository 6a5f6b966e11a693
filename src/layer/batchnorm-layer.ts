import { BatchNormError } from '../errors';
import type { GpuBatchNorm } from '../gpu/gpu-batchnorm';
import { statsByteLength } from '../gpu/resident-options';
import { channelView } from '../layout';
import type { Layout } from '../types';
import { resolveLayerOptions, type BatchNormLayerOptions, type ResolvedLayerOptions } from './layer-options';
import type { LayerGradientsInput } from './layer-snapshot';
import { checkLayerState } from './layer-state-check';
import { fromKeras, kerasView, type BatchNormStateDict, type BatchNormStateDictInput, type KerasBatchNormWeights, type KerasBatchNormWeightsInput } from './state-dict';

interface SavedForward {
  x: GPUBuffer;
  /** The forward's output: the relu mask of the backward is read from it. */
  y: GPUBuffer;
  shape: number[];
  mode: 'train' | 'eval';
  /** Whether the forward added a residual (its backward may then write dz). */
  residual: boolean;
}

/** A forward's fused residual add: y = act(BN(x) + residual). */
export interface LayerForwardOptions {
  /** z, a tensor of x's shape and layout (read only; must differ from y). */
  residual?: GPUBuffer;
}

/** Where a backward writes the gradient of the forward's residual. */
export interface LayerBackwardOptions {
  /** Receives dz, dy masked by the activation; only for a forward that had a residual. */
  dz?: GPUBuffer;
}

function checkOptionsObject<T extends object>(options: T, call: string): T {
  if (options === null || typeof options !== 'object') throw new BatchNormError('invalid-option', `${call}'s options must be an object`);
  return options;
}

const PARAM_USAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/**
 * A batch-norm layer on GPU-resident data, in the spirit of torch.nn.BatchNorm2d: it owns γ, β,
 * their gradients and the running statistics as GPU buffers, records forward and backward into
 * the caller's encoder, and keeps what backward needs (the statistics, and references to x and y)
 * on the GPU. Optimizers update `weight` and `bias` from `weightGrad` and `biasGrad`.
 */
export class BatchNormLayer {
  readonly options: ResolvedLayerOptions;
  readonly weight: GPUBuffer | undefined;
  readonly bias: GPUBuffer | undefined;
  readonly weightGrad: GPUBuffer | undefined;
  readonly biasGrad: GPUBuffer | undefined;
  readonly runningMean: GPUBuffer | undefined;
  readonly runningVar: GPUBuffer | undefined;
  /** Statistics of the last forward: [mean | variance | invStd | scale | shift]. */
  readonly stats: GPUBuffer;
  /** Training forwards seen; counted when they are encoded (the momentum-null average needs it). */
  numBatchesTracked = 0;
  training = true;
  private saved: SavedForward | undefined;
  private readonly buffers: GPUBuffer[] = [];
  private destroyed = false;

  constructor(
    private readonly kernels: GpuBatchNorm,
    options: BatchNormLayerOptions,
  ) {
    if (kernels === null || typeof kernels !== 'object' || typeof kernels.encodeForwardTrain !== 'function') {
      throw new BatchNormError('invalid-option', 'BatchNormLayer needs the GPU kernels of an engine (bn.gpu)');
    }
    this.options = resolveLayerOptions(options);
    if (!kernels.supportsDtype(this.options.dtype)) {
      throw new BatchNormError('unsupported-dtype', "a layer of dtype 'float16' needs the device feature 'shader-f16', which this device does not have");
    }
    const C = this.options.numFeatures;
    // Checked before the first buffer is made: the stats buffer is the largest (5·C values).
    const limit = kernels.device.limits.maxBufferSize;
    if (statsByteLength(C) > limit) {
      throw new BatchNormError('invalid-option', `numFeatures ${C} needs a ${statsByteLength(C)}-byte statistics buffer; this device allows ${limit}`);
    }
    const make = (name: string, fill: number) => this.buffer(name, C * 4, fill);
    if (this.options.affine) {
      this.weight = make('weight', 1);
      this.bias = make('bias', 0);
      this.weightGrad = make('weightGrad', 0);
      this.biasGrad = make('biasGrad', 0);
    }
    if (this.options.trackRunningStats) {
      this.runningMean = make('runningMean', 0);
      this.runningVar = make('runningVar', 1);
    }
    this.stats = this.buffer('stats', statsByteLength(C), 0);
  }

  get numFeatures(): number {
    return this.options.numFeatures;
  }

  get layout(): Layout | undefined {
    return this.options.layout;
  }

  /** The engine whose kernels this layer records (its device holds the layer's buffers). */
  get gpu(): GpuBatchNorm {
    return this.kernels;
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
   * y = BN(x), or act(BN(x) + residual) with `options.residual`; in training (or without running
   * statistics) with batch statistics.
   */
  forward(encoder: GPUCommandEncoder, x: GPUBuffer, y: GPUBuffer, shape: readonly number[], options: LayerForwardOptions = {}): void {
    this.checkAlive();
    const o = this.options;
    const residual = checkOptionsObject(options, 'forward').residual;
    const useBatchStats = this.training || !o.trackRunningStats;
    const common = {
      shape,
      layout: o.layout,
      eps: o.eps,
      convention: o.convention,
      activation: o.activation,
      dtype: o.dtype,
      x,
      y,
      stats: this.stats,
      gamma: this.weight,
      beta: this.bias,
      residual,
    };
    this.checkChannels(shape);
    if (useBatchStats) {
      const updating = this.training && o.trackRunningStats;
      const batches = this.numBatchesTracked + (updating ? 1 : 0);
      const momentum = o.momentum ?? 1 / batches;
      this.kernels.encodeForwardTrain(encoder, {
        ...common,
        momentum: updating ? momentum : 0,
        runningMean: updating ? this.runningMean : undefined,
        runningVar: updating ? this.runningVar : undefined,
      });
      this.numBatchesTracked = batches;
    } else {
      this.kernels.encodeForwardInference(encoder, { ...common, runningMean: this.runningMean, runningVar: this.runningVar });
    }
    this.saved = { x, y, shape: [...shape], mode: useBatchStats ? 'train' : 'eval', residual: residual !== undefined };
  }

  /**
   * dx from dy, through the statistics of the last forward (whose x buffer, and y buffer with
   * activation 'relu', must still hold the same values); dγ and dβ are added to weightGrad and
   * biasGrad, as PyTorch accumulates .grad. After a forward with a residual, `options.dz` receives
   * the residual's gradient (optional: leave it out when z needs none).
   */
  backward(encoder: GPUCommandEncoder, dy: GPUBuffer, dx: GPUBuffer, options: LayerBackwardOptions = {}): void {
    this.checkAlive();
    const saved = this.saved;
    if (!saved) throw new BatchNormError('invalid-option', 'backward needs a forward first');
    const { dz } = checkOptionsObject(options, 'backward');
    if (dz !== undefined && !saved.residual) throw new BatchNormError('invalid-option', 'backward was given dz, but the last forward had no residual');
    const o = this.options;
    this.kernels.encodeBackward(encoder, {
      shape: saved.shape,
      layout: o.layout,
      eps: o.eps,
      convention: o.convention,
      activation: o.activation,
      dtype: o.dtype,
      mode: saved.mode,
      dy,
      x: saved.x,
      y: saved.y,
      dx,
      stats: this.stats,
      gamma: this.weight,
      dgamma: this.weightGrad,
      dbeta: this.biasGrad,
      dz,
      accumulate: true,
    });
  }

  zeroGrad(encoder: GPUCommandEncoder): void {
    this.checkAlive();
    if (encoder === null || typeof encoder !== 'object' || typeof encoder.clearBuffer !== 'function') {
      throw new BatchNormError('invalid-option', 'zeroGrad needs a GPUCommandEncoder');
    }
    if (this.weightGrad) encoder.clearBuffer(this.weightGrad);
    if (this.biasGrad) encoder.clearBuffer(this.biasGrad);
  }

  /** weight, bias, running_mean, running_var, num_batches_tracked, read back from the GPU. */
  async stateDict(): Promise<BatchNormStateDict> {
    this.checkAlive();
    const C = this.options.numFeatures;
    const named: [keyof BatchNormStateDict, GPUBuffer | undefined][] = [
      ['weight', this.weight],
      ['bias', this.bias],
      ['running_mean', this.runningMean],
      ['running_var', this.runningVar],
    ];
    const present = named.filter((entry): entry is [keyof BatchNormStateDict, GPUBuffer] => entry[1] !== undefined);
    const device = this.kernels.device;
    const staging = device.createBuffer({
      label: `${this.options.label}.stateDict.staging`,
      size: Math.max(4, present.length * C * 4),
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    const encoder = device.createCommandEncoder({ label: `${this.options.label}.stateDict` });
    present.forEach(([, buffer], k) => encoder.copyBufferToBuffer(buffer, 0, staging, k * C * 4, C * 4));
    device.queue.submit([encoder.finish()]);
    try {
      await staging.mapAsync(GPUMapMode.READ);
      const all = new Float32Array(staging.getMappedRange().slice(0));
      const state: BatchNormStateDict = {};
      present.forEach(([name], k) => {
        (state as Record<string, Float32Array>)[name] = all.slice(k * C, (k + 1) * C);
      });
      if (this.options.trackRunningStats) state.num_batches_tracked = this.numBatchesTracked;
      return state;
    } finally {
      staging.destroy();
    }
  }

  async kerasWeights(): Promise<KerasBatchNormWeights> {
    return kerasView(await this.stateDict());
  }

  /** Loads a state dict; every array is checked before anything is written. */
  loadStateDict(state: BatchNormStateDictInput): void {
    this.checkAlive();
    const { arrays, batches } = checkLayerState(this.options, state);
    const buffers: Record<string, GPUBuffer | undefined> = { weight: this.weight, bias: this.bias, running_mean: this.runningMean, running_var: this.runningVar };
    for (const [name, values] of arrays) this.write(buffers[name]!, values);
    if (batches !== undefined) this.numBatchesTracked = batches;
  }

  /** Sets weightGrad and biasGrad (e.g. the gradients a CPU twin accumulated); checked first. */
  loadGradients(grads: LayerGradientsInput): void {
    this.checkAlive();
    const { arrays } = checkLayerState(this.options, { weight: grads?.weight, bias: grads?.bias }, 'gradient');
    for (const [name, values] of arrays) this.write(name === 'weight' ? this.weightGrad! : this.biasGrad!, values);
  }

  loadKerasWeights(weights: KerasBatchNormWeightsInput): void {
    this.loadStateDict(fromKeras(weights));
  }

  /** Frees the layer's buffers; any later call throws 'disposed'. */
  destroy(): void {
    this.destroyed = true;
    for (const buffer of this.buffers) buffer.destroy();
    this.buffers.length = 0;
  }

  private checkAlive(): void {
    if (this.destroyed) throw new BatchNormError('disposed', `${this.options.label} was destroyed`);
  }

  private write(buffer: GPUBuffer, values: Float32Array): void {
    this.kernels.device.queue.writeBuffer(buffer, 0, values.buffer, values.byteOffset, values.byteLength);
  }

  private buffer(name: string, size: number, fill: number): GPUBuffer {
    const buffer = this.kernels.device.createBuffer({ label: `${this.options.label}.${name}`, size, usage: PARAM_USAGE(), mappedAtCreation: true });
    new Float32Array(buffer.getMappedRange()).fill(fill);
    buffer.unmap();
    this.buffers.push(buffer);
    return buffer;
  }

  /** The shape first (invalid-shape, invalid-layout), then its channel count against the layer's. */
  private checkChannels(shape: readonly number[]): void {
    const { channels } = channelView(shape, this.options.layout);
    if (channels !== this.options.numFeatures) {
      throw new BatchNormError('channel-mismatch', `shape [${shape.join(', ')}] has ${channels} channels, this layer ${this.options.numFeatures}`);
    }
  }
}
