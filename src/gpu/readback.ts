/**
 * Regions of GPU buffers gathered into one staging buffer with one copy each, then read back with a
 * single map: how the optimizer's exportState and the training mirror's snapshots read many small
 * buffers at the cost of one.
 */
export class CopyPlan {
  private readonly regions: { source: GPUBuffer; sourceOffset: number; bytes: number; offset: number }[] = [];
  private total = 0;

  /** Adds a region (offsets and sizes in bytes, multiples of 4); returns its offset in the staging buffer. */
  add(source: GPUBuffer, sourceOffset: number, bytes: number): number {
    const offset = this.total;
    this.regions.push({ source, sourceOffset, bytes, offset });
    this.total += bytes;
    return offset;
  }

  /** Bytes of the staging buffer; at least 4, as a buffer cannot be mapped empty. */
  get byteLength(): number {
    return Math.max(4, this.total);
  }

  encode(encoder: GPUCommandEncoder, staging: GPUBuffer): void {
    for (const r of this.regions) encoder.copyBufferToBuffer(r.source, r.sourceOffset, staging, r.offset, r.bytes);
  }
}

/** A Float32Array copy of `length` values at `offset` bytes of a read-back staging buffer. */
export function floatsAt(bytes: ArrayBuffer, offset: number, length: number): Float32Array {
  return new Float32Array(bytes, offset, length).slice();
}
