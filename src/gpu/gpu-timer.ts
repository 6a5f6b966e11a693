/**
 * GPU time of recorded work. K iterations are recorded into one command encoder and submitted
 * once; with `timestamp-query`, two empty compute passes bracket them and write the GPU clock at
 * the start of the first and the end of the last, and the time per iteration is their difference
 * / K (browsers quantize timestamps, to 100 µs in Chromium, so K must make a batch last well over
 * that). Without the feature, the wall clock from before encoding to `onSubmittedWorkDone` is used.
 * batch() returns the wall time in both cases (it adds encoding and submission); batches() times
 * several such batches in one submit (timestamps only).
 */
export type EncodeWork = (encoder: GPUCommandEncoder) => void;

/** One batch of batches(): `k` iterations of `encode`. */
export interface TimedBatch {
  encode: EncodeWork;
  k: number;
}

export class GpuTimer {
  /** Batches one batches() call can time: WebGPU's largest query set holds 4096 timestamps, two a batch. */
  static readonly maxBatches = 2048;
  readonly timestamps: boolean;
  private querySet: GPUQuerySet | undefined;
  private resolveBuffer: GPUBuffer | undefined;
  private readBuffer: GPUBuffer | undefined;
  /** Batches the query set and buffers hold (grown by batches()). */
  private capacity = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly label = 'GpuTimer',
  ) {
    this.timestamps = device.features.has('timestamp-query');
    this.reserve(1);
  }

  get method(): 'timestamp-query' | 'wall-clock' {
    return this.timestamps ? 'timestamp-query' : 'wall-clock';
  }

  /** One submit of K iterations; per-iteration GPU time (or wall time without timestamps) and wall time, in ms. */
  async batch(encode: EncodeWork, k: number): Promise<{ ms: number; wallMs: number }> {
    const start = performance.now();
    if (this.timestamps) {
      const [ms] = await this.batches([{ encode, k }]);
      return { ms, wallMs: (performance.now() - start) / k };
    }
    const encoder = this.device.createCommandEncoder({ label: `${this.label}.batch` });
    for (let i = 0; i < k; i++) encode(encoder);
    this.device.queue.submit([encoder.finish()]);
    await this.device.queue.onSubmittedWorkDone();
    const wallMs = (performance.now() - start) / k;
    return { ms: wallMs, wallMs };
  }

  /**
   * Up to maxBatches batches, one after the other in one submit, each between its own pair of
   * timestamps, and one readback: the per-iteration GPU ms of each. A readback is a round trip to
   * the GPU process that costs more than a small tensor's batch, so a caller that times many
   * candidates in turn (autotuning) saves most of its wall time this way. Every device call happens
   * before the first await, so a caller can scope them for errors (gpu-errors.ts). Needs
   * timestamp-query.
   */
  async batches(items: readonly TimedBatch[]): Promise<number[]> {
    if (!this.timestamps) throw new Error(`${this.label}: batches() needs the timestamp-query feature`);
    if (items.length > GpuTimer.maxBatches) throw new RangeError(`${this.label}: ${items.length} batches, at most ${GpuTimer.maxBatches} in one call`);
    const { device, label } = this;
    this.reserve(items.length);
    const querySet = this.querySet!;
    const readBuffer = this.readBuffer!;
    const encoder = device.createCommandEncoder({ label: `${label}.batch` });
    for (const [b, { encode, k }] of items.entries()) {
      encoder.beginComputePass({ label: `${label}.start`, timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * b } }).end();
      for (let i = 0; i < k; i++) encode(encoder);
      encoder.beginComputePass({ label: `${label}.end`, timestampWrites: { querySet, endOfPassWriteIndex: 2 * b + 1 } }).end();
    }
    encoder.resolveQuerySet(querySet, 0, 2 * items.length, this.resolveBuffer!, 0);
    encoder.copyBufferToBuffer(this.resolveBuffer!, 0, readBuffer, 0, 16 * items.length);
    device.queue.submit([encoder.finish()]);
    await readBuffer.mapAsync(GPUMapMode.READ, 0, 16 * items.length);
    const stamps = new BigUint64Array(readBuffer.getMappedRange(0, 16 * items.length).slice(0));
    readBuffer.unmap();
    return items.map(({ k }, b) => Number(stamps[2 * b + 1] - stamps[2 * b]) / 1e6 / k);
  }

  /** Query set and buffers for `batches` pairs of timestamps (re-created larger when needed). */
  private reserve(batches: number): void {
    if (!this.timestamps || batches <= this.capacity) return;
    this.destroy();
    const { device, label } = this;
    this.capacity = Math.min(GpuTimer.maxBatches, Math.max(batches, 2 * this.capacity));
    this.querySet = device.createQuerySet({ label: `${label}.timestamps`, type: 'timestamp', count: 2 * this.capacity });
    this.resolveBuffer = device.createBuffer({ label: `${label}.timestamps.resolve`, size: 16 * this.capacity, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    this.readBuffer = device.createBuffer({ label: `${label}.timestamps.read`, size: 16 * this.capacity, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  destroy(): void {
    this.querySet?.destroy();
    this.resolveBuffer?.destroy();
    this.readBuffer?.destroy();
  }
}
