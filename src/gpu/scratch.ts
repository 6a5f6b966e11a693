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
      buffer = this.device.createBuffer({ label: `BatchNorm.${this.label}[${size}]`, size, usage: GPUBufferUsage.STORAGE });
      this.bySize.set(size, buffer);
    }
    return buffer;
  }

  get count(): number {
    return this.bySize.size;
  }

  destroy(): void {
    for (const buffer of this.bySize.values()) buffer.destroy();
    this.bySize.clear();
  }
}
