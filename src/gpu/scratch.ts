import { guardedBuffer } from './gpu-errors';

/**
 * Scratch storage shared by every encode of one engine (the partial statistics between the
 * statistics and finalize kernels). Work on one queue runs in order, so sharing is safe; sizes are
 * rounded up to powers of two and each size class is kept, so a buffer that an encoded but not yet
 * submitted command still uses is never destroyed before dispose().
 */
export class ScratchBuffers {
  private readonly bySize = new Map<number, GPUBuffer>();

  constructor(
    private readonly device: GPUDevice,
    private readonly label: string,
  ) {}

  get(byteLength: number): GPUBuffer {
    const size = Math.max(256, 2 ** Math.ceil(Math.log2(byteLength)));
    let buffer = this.bySize.get(size);
    if (!buffer) {
      // COPY_DST: partials are cleared when slabs leave some of them unwritten
      // (statistics-plan.ts, planSlabbedReduction).
      const descriptor = { label: `BatchNorm.${this.label}[${size}]`, size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST };
      buffer = guardedBuffer(this.device, descriptor, (failed) => this.evict(size, failed));
      this.bySize.set(size, buffer);
    }
    return buffer;
  }

  /** Drops a buffer whose creation failed, so the next get() of its size class makes a new one. */
  private evict(size: number, failed: GPUBuffer): void {
    if (this.bySize.get(size) === failed) this.bySize.delete(size);
    failed.destroy();
  }

  get count(): number {
    return this.bySize.size;
  }

  destroy(): void {
    for (const buffer of this.bySize.values()) buffer.destroy();
    this.bySize.clear();
  }
}
