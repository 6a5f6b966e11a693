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
      buffer = this.device.createBuffer({
        label: `BatchNorm.constant(${value})[${channels}]`,
        size: Math.max(16, channels * 4),
        usage: GPUBufferUsage.STORAGE,
        mappedAtCreation: true,
      });
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
      buffer = this.device.createBuffer({ label: `BatchNorm.placeholder.${role}`, size: 16, usage: GPUBufferUsage.STORAGE });
      this.buffers.set(key, buffer);
    }
    return buffer;
  }

  get count(): number {
    return this.buffers.size;
  }

  destroy(): void {
    for (const buffer of this.buffers.values()) buffer.destroy();
    this.buffers.clear();
  }
}
