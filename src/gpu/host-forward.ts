import type { ChannelStatistics } from '../channel-statistics';
import type { ResolvedOptions } from '../options';
import type { ForwardTrainResult } from '../types';
import type { BufferPool } from './buffer-pool';
import type { GpuContext } from './context';
import { encodeForwardInference, encodeForwardTrain, encodeStatistics } from './encode-forward';
import { scoped } from './gpu-errors';
import { statsByteLength } from './resident-options';
import { decodeFloat16, encodeFloat16Bits } from '../float16';
import type { TensorDtype } from '../types';
import { elementBytes } from './shader-sources';
import { tensorBytes } from './slabs';

/**
 * A host tensor as the GPU stores it: float32 values as they are; float16 ones (decoded by the
 * call's checks, so each is a float16 value) as float16 bits, padded to whole 4-byte words.
 */
function tensorUpload(values: Float32Array, dtype: TensorDtype): Float32Array | Uint16Array {
  return dtype === 'float16' ? encodeFloat16Bits(values, tensorBytes(values.length, 2) / 2) : values;
}

/** A tensor read back (`length` values in `part`'s bytes) as float32 values. */
export function tensorValues(part: Float32Array, length: number, dtype: TensorDtype): Float32Array {
  return dtype === 'float16' ? decodeFloat16(new Uint16Array(part.buffer, part.byteOffset, length)) : part;
}

/** Bytes of a host tensor of `length` values in a GPU buffer. */
export function tensorBufferBytes(length: number, dtype: TensorDtype): number {
  return tensorBytes(length, elementBytes(dtype));
}

/**
 * The host-array API on the GPU: upload, encode the same kernels as the GPU-resident API, copy
 * every result into one readback buffer, submit, map. Transient buffers come from the pool and go
 * back only after the readback resolved, i.e. after the submit completed.
 */
// Functions, not constants: GPUBufferUsage does not exist where WebGPU is missing (e.g. Node), and
// the library must still load there to run on the CPU path.
export const STORAGE_IN = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
export const STORAGE_INOUT = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
export const STORAGE_OUT = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;

export class Transfer {
  private readonly acquired: GPUBuffer[] = [];

  constructor(
    private readonly context: GpuContext,
    private readonly pool: BufferPool,
  ) {}

  buffer(label: string, bytes: number, usage: number): GPUBuffer {
    const buffer = this.pool.acquire(label, bytes, usage);
    this.acquired.push(buffer);
    return buffer;
  }

  upload(label: string, data: Float32Array | Uint16Array | undefined, usage = STORAGE_IN()): GPUBuffer | undefined {
    if (!data) return undefined;
    const buffer = this.buffer(label, data.byteLength, usage);
    this.context.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    return buffer;
  }

  /** A tensor (x, z, dy, y) uploaded in the call's storage type. */
  uploadTensor(label: string, values: Float32Array | undefined, dtype: TensorDtype): GPUBuffer | undefined {
    return values && this.upload(label, tensorUpload(values, dtype));
  }

  /**
   * Copies the named buffers into one mapped readback and returns their contents as new arrays.
   * When together they exceed the largest buffer the device allows (a tensor near maxBufferSize),
   * each part gets a readback of its own.
   */
  async submitAndRead(encoder: GPUCommandEncoder, parts: [GPUBuffer, number][]): Promise<Float32Array[]> {
    const total = parts.reduce((sum, [, bytes]) => sum + bytes, 0);
    if (total > this.context.device.limits.maxBufferSize) return this.submitAndReadEach(encoder, parts);
    const readback = this.buffer('readback', total, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    let offset = 0;
    for (const [source, bytes] of parts) {
      encoder.copyBufferToBuffer(source, 0, readback, offset, bytes);
      offset += bytes;
    }
    this.context.device.queue.submit([encoder.finish()]);
    await readback.mapAsync(GPUMapMode.READ, 0, total);
    const all = new Float32Array(readback.getMappedRange(0, total).slice(0));
    readback.unmap();
    offset = 0;
    return parts.map(([, bytes]) => {
      const part = all.slice(offset / 4, (offset + bytes) / 4);
      offset += bytes;
      return part;
    });
  }

  private async submitAndReadEach(encoder: GPUCommandEncoder, parts: [GPUBuffer, number][]): Promise<Float32Array[]> {
    const readbacks = parts.map(([source, bytes]) => {
      const readback = this.buffer('readback', bytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
      encoder.copyBufferToBuffer(source, 0, readback, 0, bytes);
      return readback;
    });
    this.context.device.queue.submit([encoder.finish()]);
    return Promise.all(
      readbacks.map(async (readback, index) => {
        const bytes = parts[index][1];
        await readback.mapAsync(GPUMapMode.READ, 0, bytes);
        const values = new Float32Array(readback.getMappedRange(0, bytes).slice(0));
        readback.unmap();
        return values;
      }),
    );
  }

  /** Returns every acquired buffer to the pool; call once the readback has resolved. */
  release(): void {
    for (const buffer of this.acquired) this.pool.release(buffer);
    this.acquired.length = 0;
  }

  /** After a failure the buffers may still be in use or invalid: destroy instead of reusing. */
  discard(): void {
    for (const buffer of this.acquired) this.pool.discard(buffer);
    this.acquired.length = 0;
  }
}

/**
 * Runs host-array work with its transient buffers; shared by the forward and backward host paths.
 * `work` makes every device call before its first await, inside error scopes (see gpu-errors.ts).
 * Its buffers go back to the pool only when both the readback and the scopes came back clean: a
 * buffer whose allocation failed (out of memory) is invalid for good and must not be reused.
 */
export async function run<T>(context: GpuContext, pool: BufferPool, what: string, work: (transfer: Transfer) => Promise<T>): Promise<T> {
  const transfer = new Transfer(context, pool);
  const { value, error } = scoped(context.device, what, () => work(transfer));
  const outcome = await value.then(
    (result) => ({ ok: true as const, result }),
    (reason: unknown) => ({ ok: false as const, reason }),
  );
  const gpuError = await error;
  if (gpuError || !outcome.ok) {
    transfer.discard();
    throw gpuError ?? (outcome as { reason: unknown }).reason;
  }
  transfer.release();
  return outcome.result;
}

/** Uploads the inputs of a forward call and takes its output buffers from the pool. */
function forwardBuffers(transfer: Transfer, x: Float32Array, o: ResolvedOptions, runningUsage: number) {
  return {
    ...o,
    x: transfer.uploadTensor('x', x, o.dtype)!,
    y: transfer.buffer('y', tensorBufferBytes(x.length, o.dtype), STORAGE_OUT()),
    stats: transfer.buffer('stats', statsByteLength(o.view.channels), STORAGE_OUT()),
    gamma: transfer.upload('gamma', o.gamma),
    beta: transfer.upload('beta', o.beta),
    runningMean: transfer.upload('runningMean', o.runningMean, runningUsage),
    runningVar: transfer.upload('runningVar', o.runningVar, runningUsage),
    residual: transfer.uploadTensor('residual', o.residual, o.dtype),
  };
}

export function gpuForwardTrain(context: GpuContext, pool: BufferPool, x: Float32Array, o: ResolvedOptions): Promise<ForwardTrainResult> {
  return run(context, pool, 'forwardTrain', async (transfer) => {
    const C = o.view.channels;
    // Training updates the running statistics in place, so they are read back too.
    const args = forwardBuffers(transfer, x, o, STORAGE_INOUT());
    const encoder = context.device.createCommandEncoder({ label: 'BatchNorm.forwardTrain.encoder' });
    encodeForwardTrain(context, encoder, args);
    const parts: [GPUBuffer, number][] = [
      [args.y, tensorBufferBytes(x.length, o.dtype)],
      [args.stats, 3 * C * 4],
    ];
    if (args.runningMean && args.runningVar) parts.push([args.runningMean, C * 4], [args.runningVar, C * 4]);
    const [y, stats, runningMean, runningVar] = await transfer.submitAndRead(encoder, parts);
    const result: ForwardTrainResult = {
      y: tensorValues(y, x.length, o.dtype),
      mean: stats.slice(0, C),
      variance: stats.slice(C, 2 * C),
      invStd: stats.slice(2 * C, 3 * C),
    };
    if (runningMean && runningVar) {
      result.runningMean = runningMean;
      result.runningVar = runningVar;
    }
    return result;
  });
}

export function gpuForwardInference(context: GpuContext, pool: BufferPool, x: Float32Array, o: ResolvedOptions): Promise<Float32Array> {
  return run(context, pool, 'forwardInference', async (transfer) => {
    const args = forwardBuffers(transfer, x, o, STORAGE_IN());
    const encoder = context.device.createCommandEncoder({ label: 'BatchNorm.forwardInference.encoder' });
    encodeForwardInference(context, encoder, args);
    const [y] = await transfer.submitAndRead(encoder, [[args.y, tensorBufferBytes(x.length, o.dtype)]]);
    return tensorValues(y, x.length, o.dtype);
  });
}

/** Per-channel (count, mean, M2) of a host array, computed on the GPU (`channelStatistics`). */
export function gpuChannelStatistics(context: GpuContext, pool: BufferPool, x: Float32Array, o: ResolvedOptions): Promise<ChannelStatistics> {
  return run(context, pool, 'channelStatistics', async (transfer) => {
    const C = o.view.channels;
    const stats = transfer.buffer('stats', statsByteLength(C), STORAGE_OUT());
    const encoder = context.device.createCommandEncoder({ label: 'BatchNorm.channelStatistics.encoder' });
    encodeStatistics(context, encoder, { ...o, x: transfer.uploadTensor('x', x, o.dtype)!, stats });
    const [meanAndVariance] = await transfer.submitAndRead(encoder, [[stats, 2 * C * 4]]);
    const count = o.view.count;
    return {
      count,
      mean: Float64Array.from(meanAndVariance.subarray(0, C)),
      m2: Float64Array.from(meanAndVariance.subarray(C, 2 * C), (v) => v * count),
    };
  });
}
