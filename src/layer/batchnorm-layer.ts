import { BatchNormError } from '../errors';
import type { GpuBatchNorm } from '../gpu/gpu-batchnorm';
import { statsByteLength } from '../gpu/resident-options';
import type { Layout } from '../types';
import { resolveLayerOptions, type BatchNormLayerOptions, type ResolvedLayerOptions } from './layer-options';
import { fromKeras, kerasView, type BatchNormStateDict, type KerasBatchNormWeights } from './state-dict';

interface SavedForward {
  x: GPUBuffer;
  shape: number[];
  mode: 'train' | 'eval';
}

const PARAM_USAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/**
 * A batch-norm layer on GPU-resident data, in the spirit of torch.nn.BatchNorm2d: it owns γ, β,
 * their gradients and the running statistics as GPU buffers, records forward and backward into
 * the caller's encoder, and keeps what backward needs (the statistics and a reference to x) on
 * the GPU. Optimizers update `weight` and `bias` from `weightGrad` and `biasGrad`.
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

  constructor(
    private readonly kernels: GpuBatchNorm,
    options: BatchNormLayerOptions,
  ) {
    this.options = resolveLayerOptions(options);
    const C = this.options.numFeatures;
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

  train(mode = true): this {
    this.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** y = BN(x); in training (or without running statistics) with batch statistics. */
  forward(encoder: GPUCommandEncoder, x: GPUBuffer, y: GPUBuffer, shape: readonly number[]): void {
    const o = this.options;
    const useBatchStats = this.training || !o.trackRunningStats;
    const common = {
      shape,
      layout: o.layout,
      eps: o.eps,
      convention: o.convention,
      activation: o.activation,
      x,
      y,
      stats: this.stats,
      gamma: this.weight,
      beta: this.bias,
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
    this.saved = { x, shape: [...shape], mode: useBatchStats ? 'train' : 'eval' };
  }

  /**
   * dx from dy, through the statistics of the last forward (whose x buffer must still hold the same
   * values); dγ and dβ are added to weightGrad and biasGrad, as PyTorch accumulates .grad.
   */
  backward(encoder: GPUCommandEncoder, dy: GPUBuffer, dx: GPUBuffer): void {
    const saved = this.saved;
    if (!saved) throw new BatchNormError('invalid-option', 'backward needs a forward first');
    const o = this.options;
    this.kernels.encodeBackward(encoder, {
      shape: saved.shape,
      layout: o.layout,
      eps: o.eps,
      convention: o.convention,
      activation: o.activation,
      mode: saved.mode,
      dy,
      x: saved.x,
      dx,
      stats: this.stats,
      gamma: this.weight,
      dgamma: this.weightGrad,
      dbeta: this.biasGrad,
      accumulate: true,
    });
  }

  zeroGrad(encoder: GPUCommandEncoder): void {
    if (this.weightGrad) encoder.clearBuffer(this.weightGrad);
    if (this.biasGrad) encoder.clearBuffer(this.biasGrad);
  }

  /** weight, bias, running_mean, running_var, num_batches_tracked, read back from the GPU. */
  async stateDict(): Promise<BatchNormStateDict> {
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
  loadStateDict(state: BatchNormStateDict): void {
    const C = this.options.numFeatures;
    const writes: [GPUBuffer, Float32Array][] = [];
    const pairs: [string, Float32Array | undefined, GPUBuffer | undefined][] = [
      ['weight', state.weight, this.weight],
      ['bias', state.bias, this.bias],
      ['running_mean', state.running_mean, this.runningMean],
      ['running_var', state.running_var, this.runningVar],
    ];
    for (const [name, values, buffer] of pairs) {
      if (values === undefined) continue;
      if (!buffer) throw new BatchNormError('invalid-option', `this layer has no ${name} (affine or trackRunningStats is off)`);
      if (!(values instanceof Float32Array) || values.length !== C) {
        throw new BatchNormError('channel-mismatch', `${name} must be a Float32Array of length ${C}`);
      }
      writes.push([buffer, values]);
    }
    const batches = state.num_batches_tracked;
    if (batches !== undefined && (!Number.isSafeInteger(batches) || batches < 0)) {
      throw new BatchNormError('invalid-option', `num_batches_tracked must be a non-negative integer, got ${batches}`);
    }
    for (const [buffer, values] of writes) this.kernels.device.queue.writeBuffer(buffer, 0, values.buffer, values.byteOffset, values.byteLength);
    if (batches !== undefined) this.numBatchesTracked = batches;
  }

  loadKerasWeights(weights: KerasBatchNormWeights): void {
    this.loadStateDict(fromKeras(weights));
  }

  destroy(): void {
    for (const buffer of this.buffers) buffer.destroy();
    this.buffers.length = 0;
  }

  private buffer(name: string, size: number, fill: number): GPUBuffer {
    const buffer = this.kernels.device.createBuffer({ label: `${this.options.label}.${name}`, size, usage: PARAM_USAGE(), mappedAtCreation: true });
    new Float32Array(buffer.getMappedRange()).fill(fill);
    buffer.unmap();
    this.buffers.push(buffer);
    return buffer;
  }

  private checkChannels(shape: readonly number[]): void {
    const axis = this.options.layout ? this.options.layout.indexOf('C') : 1;
    if (!Array.isArray(shape) || shape[axis] !== this.options.numFeatures) {
      throw new BatchNormError('channel-mismatch', `shape [${shape}] has ${shape?.[axis]} channels, this layer ${this.options.numFeatures}`);
    }
  }
}
