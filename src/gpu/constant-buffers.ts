import { guardedBuffer } from './gpu-errors';

/**
 * Read-only per-channel buffers the kernels bind when the caller supplies none: γ = 1, β = 0, and a
 * placeholder for the running statistics when they are not tracked (the kernel then never touches
 * it, but a binding must exist). Kept per channel count and value for the engine's lifetime.
 */
export class ConstantBuffers {
  private readonly buffers = new Map<string, GPUBuffer>();

  constructor(private readonly device: GPUDevice) {}

  filled(channels: number, value: number): GPUBuffer {
    const key = `${channels}:${value}`;
    let buffer = this.buffers.get(key);
    if (!buffer) {
      const descriptor = { label: `BatchNorm.constant(${value})[${channels}]`, size: Math.max(16, channels * 4), usage: GPUBufferUsage.STORAGE, mappedAtCreation: true };
      buffer = guardedBuffer(this.device, descriptor, (failed) => this.evict(key, failed));
      new Float32Array(buffer.getMappedRange()).fill(value);
      buffer.unmap();
      this.buffers.set(key, buffer);
    }
    return buffer;
  }

  /** A writable placeholder, distinct per role because two writable bindings may not alias. */
  placeholder(role: string): GPUBuffer {
    const key = `placeholder:${role}`;
    let buffer = this.buffers.get(key);
    if (!buffer) {
      const descriptor = { label: `BatchNorm.placeholder.${role}`, size: 16, usage: GPUBufferUsage.STORAGE };
      buffer = guardedBuffer(this.device, descriptor, (failed) => this.evict(key, failed));
      this.buffers.set(key, buffer);
    }
    return buffer;
  }

  /** Drops a buffer whose creation failed (out of memory), so the next call makes a new one. */
  private evict(key: string, failed: GPUBuffer): void {
    if (this.buffers.get(key) === failed) this.buffers.delete(key);
    failed.destroy();
  }

  get count(): number {
    return this.buffers.size;
  }

  destroy(): void {
    for (const buffer of this.buffers.values()) buffer.destroy();
    this.buffers.clear();
  }
}
