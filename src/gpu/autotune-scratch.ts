import type { ChannelView } from '../layout';
import type { GpuContext } from './context';
import { encodeBackward } from './encode-backward';
import { encodeForwardInference, encodeForwardTrain } from './encode-forward';
import type { EncodeWork } from './gpu-timer';
import { planElementwiseWork } from './elementwise-plan';
import { statsByteLength, statsByteOffset } from './resident-options';
import { planReduction } from './statistics-plan';
import type { KernelFamily } from './tuning-classes';

/*
 * The scratch tensors autotuning times its candidates on (autotune.ts): one family's inputs and
 * outputs at one shape, filled with a varied pattern, kept in a ScratchBuffers until the timing ends.
 */

/**
 * The buffers of one autotuning run, shared by every tensor of one role and size: each tensor is
 * timed alone, and the pattern filled in depends only on the size. Allocating a buffer costs as much
 * as several runs on some adapters (70–140 ms for 16 MiB on SwiftShader in Node), and the tensors of
 * one class, and of the classes of one call, are mostly of a few sizes.
 */
export class ScratchBuffers {
  private readonly buffers = new Map<string, GPUBuffer>();

  constructor(private readonly device: GPUDevice) {}

  get(label: string, size: number, fill?: Float32Array): GPUBuffer {
    const bytes = Math.max(16, size);
    const key = `${label}:${bytes}`;
    let buffer = this.buffers.get(key);
    if (!buffer) {
      buffer = this.device.createBuffer({ label: `BatchNorm.autotune.${label}`, size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, mappedAtCreation: fill !== undefined });
      if (fill) {
        tile(new Float32Array(buffer.getMappedRange(0, size)), fill);
        buffer.unmap();
      }
      this.buffers.set(key, buffer);
    }
    return buffer;
  }

  destroy(): void {
    for (const buffer of this.buffers.values()) buffer.destroy();
    this.buffers.clear();
  }
}

/** The kernels see only [outer, C, inner]: every tensor of a view runs them as this NCL shape. */
export function viewShape(view: ChannelView): number[] {
  return [view.outer, view.channels, view.inner];
}

/**
 * The tensors one family's timing runs on: x (and dy) filled with a varied pattern, outputs, the
 * statistics and running statistics, taken from `buffers`.
 */
export class ScratchTensors {
  private readonly x: GPUBuffer;
  private readonly out: GPUBuffer;
  private readonly dy: GPUBuffer | undefined;
  private readonly stats: GPUBuffer;
  private readonly perChannel: GPUBuffer[];

  constructor(
    private readonly device: GPUDevice,
    private readonly family: KernelFamily,
    readonly view: ChannelView,
    buffers: ScratchBuffers,
  ) {
    const bytes = view.size * 4;
    this.x = buffers.get('x', bytes, PATTERN);
    this.out = buffers.get(family === 'backward' ? 'dx' : 'y', bytes);
    if (family === 'backward') this.dy = buffers.get('dy', bytes, REVERSED_PATTERN);
    this.stats = buffers.get('stats', statsByteLength(view.channels));
    // runningMean, runningVar (ones: inference divides by them), dgamma, dbeta.
    this.perChannel = ['runningMean', 'runningVar', 'dgamma', 'dbeta'].map((label) => buffers.get(label, view.channels * 4));
    device.queue.writeBuffer(this.perChannel[1], 0, new Float32Array(view.channels).fill(1));
    if (family === 'backward') this.primeStatistics();
  }

  private get args() {
    return { shape: viewShape(this.view), layout: 'NCL' as const };
  }

  /**
   * The statistics the backward reads, written directly: mean 0 and variance, invStd and scale 1 fit
   * the pattern well enough, and the backward's time does not depend on their values (a training
   * forward run here, with the engine's starting tuning, cost more than timing the candidates).
   */
  private primeStatistics(): void {
    const C = this.view.channels;
    const values = new Float32Array(statsByteLength(C) / 4).fill(1);
    for (const block of ['mean', 'shift'] as const) values.fill(0, statsByteOffset(block, C) / 4, statsByteOffset(block, C) / 4 + C);
    this.device.queue.writeBuffer(this.stats, 0, values);
  }

  /** One call of the family with `context`'s tuning (checked now, so a plan that cannot run throws here). */
  work(context: GpuContext): EncodeWork {
    const [runningMean, runningVar, dgamma, dbeta] = this.perChannel;
    const { x, out: y, stats } = this;
    const encode: EncodeWork =
      this.family === 'forwardTrain'
        ? (encoder) => void encodeForwardTrain(context, encoder, { ...this.args, x, y, stats, runningMean, runningVar })
        : this.family === 'inference'
          ? (encoder) => void encodeForwardInference(context, encoder, { ...this.args, x, y, stats, runningMean, runningVar })
          : (encoder) => encodeBackward(context, encoder, { ...this.args, dy: this.dy!, x, dx: y, stats, dgamma, dbeta });
    if (this.family !== 'inference') planReduction(context, this.view, this.family === 'backward' ? 'backwardReduce' : 'stats');
    planElementwiseWork(context, this.view);
    return encode;
  }

}

/**
 * Values of mean ~0 and spread ~1, repeated every 4093 values (a prime: no channel sees a constant),
 * so that filling a large scratch tensor costs memory copies, not a random number per value.
 */
const PATTERN = (() => {
  const values = new Float32Array(4093);
  let state = 0x9e3779b9;
  for (let i = 0; i < values.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    values[i] = state / 2 ** 31 - 1;
  }
  return values;
})();
const REVERSED_PATTERN = PATTERN.slice().reverse();

function tile(target: Float32Array, pattern: Float32Array): void {
  const first = Math.min(pattern.length, target.length);
  target.set(pattern.subarray(0, first));
  // Doubling copies: log2(n / period) calls of copyWithin.
  for (let filled = first; filled < target.length; filled *= 2) target.copyWithin(filled, 0, Math.min(filled, target.length - filled));
}
