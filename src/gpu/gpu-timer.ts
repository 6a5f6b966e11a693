/**
 * GPU time of recorded work. K iterations are recorded into one command encoder and submitted
 * once; with `timestamp-query`, two empty compute passes bracket them and write the GPU clock at
 * the start of the first and the end of the last, and the time per iteration is their difference
 * / K (browsers quantize timestamps, to 100 µs in Chromium, so K must make a batch last well over
 * that). Without the feature, the wall clock from before encoding to `onSubmittedWorkDone` is used.
 * The wall time is returned in both cases (it adds encoding and submission).
 */
export type EncodeWork = (encoder: GPUCommandEncoder) => void;

export class GpuTimer {
  readonly timestamps: boolean;
  private readonly querySet: GPUQuerySet | undefined;
  private readonly resolveBuffer: GPUBuffer | undefined;
  private readonly readBuffer: GPUBuffer | undefined;

  constructor(
    private readonly device: GPUDevice,
    private readonly label = 'GpuTimer',
  ) {
    this.timestamps = device.features.has('timestamp-query');
    if (this.timestamps) {
      this.querySet = device.createQuerySet({ label: `${label}.timestamps`, type: 'timestamp', count: 2 });
      this.resolveBuffer = device.createBuffer({ label: `${label}.timestamps.resolve`, size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
      this.readBuffer = device.createBuffer({ label: `${label}.timestamps.read`, size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    }
  }

  get method(): 'timestamp-query' | 'wall-clock' {
    return this.timestamps ? 'timestamp-query' : 'wall-clock';
  }

  /** One submit of K iterations; per-iteration GPU time (or wall time without timestamps) and wall time, in ms. */
  batch(encode: EncodeWork, k: number): Promise<{ ms: number; wallMs: number }> {
    return this.submit(encode, k)();
  }

  /**
   * batch() in two halves: every device call (encoding, submit) now, synchronously, so that a caller
   * can scope them for errors; the returned function waits for the times.
   */
  submit(encode: EncodeWork, k: number): () => Promise<{ ms: number; wallMs: number }> {
    const { device, label } = this;
    const start = performance.now();
    const encoder = device.createCommandEncoder({ label: `${label}.batch` });
    if (this.querySet) {
      encoder.beginComputePass({ label: `${label}.start`, timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: 0 } }).end();
    }
    for (let i = 0; i < k; i++) encode(encoder);
    if (this.querySet && this.resolveBuffer && this.readBuffer) {
      encoder.beginComputePass({ label: `${label}.end`, timestampWrites: { querySet: this.querySet, endOfPassWriteIndex: 1 } }).end();
      encoder.resolveQuerySet(this.querySet, 0, 2, this.resolveBuffer, 0);
      encoder.copyBufferToBuffer(this.resolveBuffer, 0, this.readBuffer, 0, 16);
    }
    device.queue.submit([encoder.finish()]);
    const done = device.queue.onSubmittedWorkDone();
    const readBuffer = this.readBuffer;
    const mapped = readBuffer?.mapAsync(GPUMapMode.READ);
    return async () => {
      await done;
      const wallMs = (performance.now() - start) / k;
      if (!readBuffer) return { ms: wallMs, wallMs };
      await mapped;
      const [begin, end] = new BigUint64Array(readBuffer.getMappedRange());
      readBuffer.unmap();
      return { ms: Number(end - begin) / 1e6 / k, wallMs };
    };
  }

  destroy(): void {
    this.querySet?.destroy();
    this.resolveBuffer?.destroy();
    this.readBuffer?.destroy();
  }
}
