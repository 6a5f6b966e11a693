/**
 * Reuses the transient buffers of host-array calls (uploads, outputs, readbacks), keyed by size and
 * usage. A buffer goes back to the pool only once the submit that used it has completed (the caller
 * releases after its readback resolves), so no later call can overwrite data still in flight.
 * Sizes are rounded up to a multiple of 256 bytes so that nearby sizes share buffers.
 */
export class BufferPool {
  private readonly free = new Map<string, GPUBuffer[]>();
  private live = 0;
  private destroyed = false;

  constructor(
    private readonly device: GPUDevice,
    /** Free buffers kept per size and usage; more are destroyed on release. */
    private readonly keepPerKey = 4,
  ) {}

  acquire(label: string, byteLength: number, usage: number): GPUBuffer {
    const size = Math.max(256, Math.ceil(byteLength / 256) * 256);
    const reused = this.free.get(`${size}:${usage}`)?.pop();
    if (reused) return reused;
    this.live += 1;
    return this.device.createBuffer({ label: `BatchNorm.pool.${label}[${size}]`, size, usage });
  }

  release(buffer: GPUBuffer): void {
    if (this.destroyed) {
      // Released after dispose() by a call that was still in flight: nothing keeps it any more.
      this.discard(buffer);
      return;
    }
    const key = `${buffer.size}:${buffer.usage}`;
    const list = this.free.get(key) ?? [];
    if (list.length >= this.keepPerKey) {
      buffer.destroy();
      this.live -= 1;
      return;
    }
    list.push(buffer);
    this.free.set(key, list);
  }

  /** Destroys a buffer instead of keeping it: after a failed call it may be invalid or still in use. */
  discard(buffer: GPUBuffer): void {
    buffer.destroy();
    this.live -= 1;
  }

  /** Buffers created by the pool and not yet destroyed (in use or free). */
  get liveBuffers(): number {
    return this.live;
  }

  /** Destroys the free buffers now and those still in use when their call releases them. */
  destroy(): void {
    this.destroyed = true;
    for (const list of this.free.values()) for (const buffer of list) this.discard(buffer);
    this.free.clear();
  }
}
