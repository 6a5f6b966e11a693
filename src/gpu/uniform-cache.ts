import { guardedBuffer } from './gpu-errors';
import { NumericKeyMap } from './numeric-keys';

/**
 * Uniform buffers keyed by their exact bytes. A buffer is written once at creation and never again,
 * so any number of encodes may share it before their submit without one overwriting another's
 * parameters. A training loop repeats the same few shapes, so the cache stays small; past
 * `capacity` the oldest buffer is forgotten but not destroyed: a pass recorded into an encoder
 * not yet submitted, or a compiled pass (program-cache.ts), may still use it, and a buffer nothing
 * references is freed by the garbage collector (these are a few dozen bytes each).
 */
export class UniformCache {
  private readonly buffers: NumericKeyMap<GPUBuffer>;
  /** A small number per label, the first word of a key. */
  private readonly labels = new Map<string, number>();

  constructor(
    private readonly device: GPUDevice,
    capacity = 1024,
  ) {
    this.buffers = new NumericKeyMap(capacity);
  }

  get(label: string, bytes: ArrayBuffer): GPUBuffer {
    let id = this.labels.get(label);
    if (id === undefined) {
      id = this.labels.size;
      this.labels.set(label, id);
    }
    const words = new Uint32Array(bytes);
    const key = new Uint32Array(words.length + 1);
    key[0] = id;
    key.set(words, 1);
    const cached = this.buffers.get(key);
    if (cached) return cached;
    const descriptor = { label: `BatchNorm.${label}.params`, size: bytes.byteLength, usage: GPUBufferUsage.UNIFORM, mappedAtCreation: true };
    const buffer = guardedBuffer(this.device, descriptor, (failed) => {
      // Its creation failed (out of memory): forget it, so the next call makes a new one.
      if (this.buffers.get(key) === failed) this.buffers.delete(key);
      failed.destroy();
    });
    new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(bytes));
    buffer.unmap();
    this.buffers.set(key, buffer);
    return buffer;
  }

  get size(): number {
    return this.buffers.size;
  }

  destroy(): void {
    for (const buffer of this.buffers.values()) buffer.destroy();
    this.buffers.clear();
  }
}
