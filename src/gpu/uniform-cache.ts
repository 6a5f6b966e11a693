import { guardedBuffer } from './gpu-errors';

/**
 * Uniform buffers keyed by their exact bytes. A buffer is written once at creation and never again,
 * so any number of encodes may share it before their submit without one overwriting another's
 * parameters. A training loop repeats the same few shapes, so the cache stays small; past
 * `capacity` the least recently used buffer is destroyed.
 */
export class UniformCache {
  private readonly buffers = new Map<string, GPUBuffer>();

  constructor(
    private readonly device: GPUDevice,
    private readonly capacity = 1024,
  ) {}

  get(label: string, bytes: ArrayBuffer): GPUBuffer {
    const key = `${label}:${Array.from(new Uint32Array(bytes)).join(',')}`;
    const cached = this.buffers.get(key);
    if (cached) {
      this.buffers.delete(key);
      this.buffers.set(key, cached);
      return cached;
    }
    const descriptor = { label: `BatchNorm.${label}.params`, size: bytes.byteLength, usage: GPUBufferUsage.UNIFORM, mappedAtCreation: true };
    const buffer = guardedBuffer(this.device, descriptor, (failed) => {
      // Its creation failed (out of memory): forget it, so the next call makes a new one.
      if (this.buffers.get(key) === failed) this.buffers.delete(key);
      failed.destroy();
    });
    new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(bytes));
    buffer.unmap();
    this.buffers.set(key, buffer);
    if (this.buffers.size > this.capacity) {
      const [oldestKey, oldest] = this.buffers.entries().next().value as [string, GPUBuffer];
      this.buffers.delete(oldestKey);
      oldest.destroy();
    }
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
