/**
 * Our two implementations: `webgpu` (the GPU-resident API on the benchmark's device, K calls
 * recorded into one encoder, nothing read back while timed) and `cpu` (the host-array API on the
 * CPU path). The copy floor is timed here too, interleaved with `webgpu`, on the same device.
 *
 * Tensors up to 512 MB: inputs without host arrays are generated into their GPU buffers in chunks,
 * outputs are read back in chunks for the check, and every buffer of a case is destroyed at its end.
 */
import { createBatchNorm, decodeFloat16, GpuBatchNorm, tensorByteLength, type BatchNorm } from '../../src/index';
import { type KernelTuning } from '../../src/advanced';
import { resolveTuning, tuningForAdapter } from '../../src/gpu/tuning';
import { baseOp, type MeasuredRow, type MissingRow, type PageResult, type TimingPlan } from '../lib/types';
import type { BenchDevice } from './gpu-device';
import { EPS, hostX, libraryOptions, streamInto, type CaseData, type Stream } from './case-data';
import { copyFloor, copyShapesFor } from './copy-kernel';
import { maxAbsDiff } from './data';
import { StreamedCheck } from './streamed-reference';
import { GpuTimer, summarize, timeGpuInterleaved, timeHost, type Encode, type Samples } from './timing';

/** Usage of every input and output buffer; a function, since in Node the GPU* globals exist only once Dawn is loaded. */
const bufferUsage = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** Elements per chunk when generating inputs into, or reading outputs from, a GPU buffer (16 MB). */
const CHUNK = 4 * 1024 * 1024;

type Dtype = CaseData['dtype'];

/**
 * Bytes of the GPU buffer of a tensor of `elements` values: tensorByteLength, rounded up to whole
 * vec4s (16 bytes), which the copy floor reads and writes.
 */
function tensorBufferBytes(elements: number, dtype: Dtype): number {
  return Math.max(16, Math.ceil(tensorByteLength(elements, dtype) / 16) * 16);
}

export function upload(device: GPUDevice, label: string, data: Float32Array | Uint16Array): GPUBuffer {
  const size = data instanceof Uint16Array ? tensorBufferBytes(data.length, 'float16') : Math.max(16, data.byteLength);
  const buffer = device.createBuffer({ label: `bench.${label}`, size, usage: bufferUsage(), mappedAtCreation: true });
  if (data instanceof Uint16Array) new Uint16Array(buffer.getMappedRange(), 0, data.length).set(data);
  else new Float32Array(buffer.getMappedRange(), 0, data.length).set(data);
  buffer.unmap();
  return buffer;
}

/** An input the case has no host array for: its values generated chunk by chunk into the buffer. */
async function generate(device: GPUDevice, label: string, seed: number, stream: Stream): Promise<GPUBuffer> {
  const buffer = output(device, label, stream.length);
  const chunk = new Float32Array(Math.min(CHUNK, stream.length));
  for (let first = 0; first < stream.length; first += chunk.length) {
    const part = stream.length - first < chunk.length ? chunk.subarray(0, stream.length - first) : chunk;
    streamInto(seed, stream, first, part);
    device.queue.writeBuffer(buffer, first * 4, part);
    // Bounds the data in flight to the GPU process to a few chunks.
    if ((first / chunk.length) % 8 === 7) await device.queue.onSubmittedWorkDone();
  }
  await device.queue.onSubmittedWorkDone();
  return buffer;
}

export function output(device: GPUDevice, label: string, elements: number, dtype: Dtype = 'float32'): GPUBuffer {
  return device.createBuffer({ label: `bench.${label}`, size: tensorBufferBytes(elements, dtype), usage: bufferUsage() });
}

/** A tensor output read back whole, as float32 values (float16 ones decoded). */
async function readTensor(device: GPUDevice, buffer: GPUBuffer, elements: number, dtype: Dtype): Promise<Float32Array> {
  if (dtype === 'float32') return readBack(device, buffer, 0, elements);
  // Whole 4-byte words: an odd count has 2 bytes of padding after the last value.
  const words = await readBack(device, buffer, 0, tensorByteLength(elements, 'float16') / 4);
  return decodeFloat16(new Uint16Array(words.buffer, 0, elements));
}

export async function readBack(device: GPUDevice, buffer: GPUBuffer, offsetBytes: number, elements: number): Promise<Float32Array> {
  const staging = device.createBuffer({ label: 'bench.readback', size: elements * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder({ label: 'bench.readback' });
  encoder.copyBufferToBuffer(buffer, offsetBytes, staging, 0, elements * 4);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(staging.getMappedRange().slice(0));
  staging.unmap();
  staging.destroy();
  return out;
}

/** Hands `elements` values of `buffer` to `feed` in order, a chunk at a time (the chunk is only valid during the call). */
async function readInChunks(device: GPUDevice, buffer: GPUBuffer, elements: number, feed: (chunk: Float32Array) => void): Promise<void> {
  const chunkElements = Math.min(CHUNK, elements);
  const staging = device.createBuffer({ label: 'bench.readback.chunk', size: chunkElements * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  try {
    for (let first = 0; first < elements; first += chunkElements) {
      const count = Math.min(chunkElements, elements - first);
      const encoder = device.createCommandEncoder({ label: 'bench.readback.chunk' });
      encoder.copyBufferToBuffer(buffer, first * 4, staging, 0, count * 4);
      device.queue.submit([encoder.finish()]);
      await staging.mapAsync(GPUMapMode.READ, 0, count * 4);
      feed(new Float32Array(staging.getMappedRange(0, count * 4)));
      staging.unmap();
    }
  } finally {
    staging.destroy();
  }
}

export type Errors = { maxAbsErr: number; errors: Record<string, number> };

export function errorsAgainst(reference: Record<string, ArrayLike<number>>, actual: Record<string, Float32Array>): Errors {
  const errors: Record<string, number> = {};
  for (const name of Object.keys(actual)) errors[name] = maxAbsDiff(actual[name], reference[name]);
  return { maxAbsErr: errors[Object.keys(actual)[0]], errors };
}

export async function withErrorScopes<T>(device: GPUDevice, work: () => Promise<T>): Promise<T> {
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let result: T;
  try {
    result = await work();
  } finally {
    const validation = await device.popErrorScope();
    const oom = await device.popErrorScope();
    const error = validation ?? oom;
    if (error) throw new Error(`GPU error: ${error.message}`);
  }
  return result;
}

/** One line of at most 400 characters (WebGPU messages span lines and repeat object lists). */
export function oneLine(error: unknown): string {
  const text = String((error as Error)?.message ?? error).replace(/\s+/g, ' ').trim();
  return text.length > 400 ? `${text.slice(0, 397)}…` : text;
}

export class Ours {
  readonly timer: GpuTimer;

  private constructor(
    readonly bench: BenchDevice,
    readonly gpuEngine: BatchNorm,
    readonly cpuEngine: BatchNorm,
    /** The same kernels with tuning.oneDispatch false: the three-kernel path, timed beside one-dispatch rows. */
    readonly threeKernelEngine: BatchNorm,
  ) {
    this.timer = new GpuTimer(bench.device, 'bench');
  }

  static async create(bench: BenchDevice): Promise<Ours> {
    const gpuEngine = await createBatchNorm({ backend: 'webgpu', device: bench.device });
    const cpuEngine = await createBatchNorm({ backend: 'cpu' });
    const threeKernelEngine = await createBatchNorm({ backend: 'webgpu', device: bench.device, tuning: { oneDispatch: false } });
    return new Ours(bench, gpuEngine, cpuEngine, threeKernelEngine);
  }

  /**
   * Kernels with a real GPU's default tuning on the bench device, whatever the adapter: what
   * autotuning starts from on a discrete GPU (`--tuning gpu-defaults`).
   */
  useTuning(tuning: 'adapter' | 'gpu-defaults'): KernelTuning {
    const { device, adapter } = this.bench;
    this.gpuDefaults?.destroy();
    this.gpuDefaults = tuning === 'gpu-defaults' ? new GpuBatchNorm(device, resolveTuning(undefined, device.limits.maxComputeInvocationsPerWorkgroup, tuningForAdapter({ architecture: '', isFallbackAdapter: false })), { adapter }) : undefined;
    return { ...this.gpu.tuning };
  }

  private gpuDefaults: GpuBatchNorm | undefined;

  get gpu(): GpuBatchNorm {
    if (this.gpuDefaults) return this.gpuDefaults;
    const gpu = this.gpuEngine.gpu;
    if (!gpu) throw new Error('the engine fell back to the CPU path (device lost?)');
    return gpu;
  }

  /** GPU errors the engine kept from its encode… calls, as one line (undefined when none). */
  async engineErrors(): Promise<string | undefined> {
    try {
      await this.gpu.checkErrors();
      return undefined;
    } catch (error) {
      return oneLine(error);
    }
  }

  /**
   * copy and webgpu, repetitions interleaved; then webgpu's outputs are checked: against the CPU
   * reference for host cases, else streamed against float64 values (streamed-reference.ts).
   */
  async measureGpu(data: CaseData, plan: TimingPlan): Promise<PageResult> {
    const { device } = this.bench;
    const { shape, layout, seed } = data.spec;
    const dtype = data.dtype;
    const op = baseOp(data.spec.op);
    const C = data.view.channels;
    const elements = data.view.size;
    const buffers: GPUBuffer[] = [];
    const keep = <T extends GPUBuffer>(buffer: T) => (buffers.push(buffer), buffer);
    // float16: the inputs' float16 bits (case-data.ts makes them for every float16 case).
    const input = async (label: string, host: Float32Array | undefined, stream: Stream, bits?: Uint16Array) =>
      keep(bits ? upload(device, label, bits) : host ? upload(device, label, host) : await generate(device, label, seed, stream));
    const missing: MissingRow[] = [];
    const rows: MeasuredRow[] = [];
    const timerName = this.timer.method;
    const gpuTimed = (what: string) =>
      this.timer.timestamps
        ? `GPU time (timestamp-query) of ${what}, K per submit, per iteration; no readback`
        : `wall clock from encoding to onSubmittedWorkDone of ${what}, K per submit, per iteration; no readback`;
    let copy: ReturnType<typeof copyFloor> | undefined;
    try {
      const x = await input('x', data.x, data.streams.x, data.bits?.x);
      const copyDst = keep(output(device, 'copy.dst', elements, dtype));
      // The floor copies the tensor's bytes: for float16, half those of float32 (the copy kernel
      // moves 4-byte words, so as many words as the float16 buffer holds).
      const copyWords = dtype === 'float16' ? tensorBufferBytes(elements, dtype) / 4 : elements;
      copy = copyFloor(device, x, copyDst, copyWords, copyShapesFor(this.bench.adapter.isFallbackAdapter));
      const gamma = keep(upload(device, 'gamma', data.gamma));
      const beta = keep(upload(device, 'beta', data.beta));
      const runningMean = keep(upload(device, 'runningMean', data.runningMean));
      const runningVar = keep(upload(device, 'runningVar', data.runningVar));
      const stats = keep(this.gpu.createStatsBuffer(C, 'bench.stats'));
      // The residual ops: z added before y is written (forward), dz written beside dx (backward).
      const residual = data.streams.z && op === 'forward-train' ? await input('z', data.z, data.streams.z, data.bits?.z) : undefined;
      const dz = data.streams.z && op === 'backward' ? keep(output(device, 'dz', elements, dtype)) : undefined;
      const withResidual = residual ? ' with a residual z added before y is written' : dz ? ', dz written beside dx' : '';
      const out = keep(output(device, op === 'backward' ? 'dx' : 'y', elements, dtype));
      let encode: Encode | undefined;
      // The same call on the three-kernel path, when the engine runs this shape in one dispatch.
      let threeKernels: Encode | undefined;
      // With --tuning gpu-defaults: the same call with the adapter's own, hand-written tuning
      // (the engine's heuristics for this adapter), what autotuning from the GPU defaults should reach.
      let handTuned: Encode | undefined;
      const handTunedGpu = this.gpuDefaults ? this.gpuEngine.gpu : undefined;
      let dispatches: number | undefined;
      const threeKernelGpu = this.threeKernelEngine.gpu;
      let what = '';
      // The main output, then per-channel outputs (buffer, byte offset), all checked after timing.
      const main = { name: op === 'backward' ? 'dx' : 'y', buffer: out };
      let perChannel: Record<string, [GPUBuffer, number]> = {};
      if (op === 'forward-train') {
        what = 'encodeForwardTrain (stats, finalize with running-statistics update, apply)';
        encode = (encoder) => this.gpu.encodeForwardTrain(encoder, { shape, layout, dtype, eps: EPS, x, y: out, stats, gamma, beta, runningMean, runningVar, residual });
        if (handTunedGpu) handTuned = (encoder) => handTunedGpu.encodeForwardTrain(encoder, { shape, layout, dtype, eps: EPS, x, y: out, stats, gamma, beta, runningMean, runningVar, residual });
        // A residual takes the three-kernel path whatever the size (the one dispatch has no residual add).
        dispatches = this.gpu.dispatchCount('forwardTrain', { shape, layout, dtype, residual: residual !== undefined });
        if (residual) what = `encodeForwardTrain${withResidual} (stats, finalize with running-statistics update, apply)`;
        else if (dispatches === 1 && threeKernelGpu) {
          what = 'encodeForwardTrain in one dispatch (statistics, running-statistics update, y)';
          threeKernels = (encoder) => threeKernelGpu.encodeForwardTrain(encoder, { shape, layout, dtype, eps: EPS, x, y: out, stats, gamma, beta, runningMean, runningVar });
        }
        perChannel = { mean: [stats, this.gpu.statsByteOffset('mean', C)], variance: [stats, this.gpu.statsByteOffset('variance', C)] };
      } else if (op === 'inference') {
        what = 'encodeForwardInference (fold of running statistics, apply)';
        encode = (encoder) => this.gpu.encodeForwardInference(encoder, { shape, layout, dtype, eps: EPS, x, y: out, stats, gamma, beta, runningMean, runningVar });
        if (handTunedGpu) handTuned = (encoder) => handTunedGpu.encodeForwardInference(encoder, { shape, layout, dtype, eps: EPS, x, y: out, stats, gamma, beta, runningMean, runningVar });
        // Folded inside the apply, it is also timed with the fold in a dispatch of its own before it.
        dispatches = this.gpu.dispatchCount('inference', { shape, layout, dtype });
        if (threeKernelGpu && threeKernelGpu.dispatchCount('inference', { shape, layout, dtype }) > dispatches) {
          what = 'encodeForwardInference (the fold of the running statistics inside the apply)';
          threeKernels = (encoder) => threeKernelGpu.encodeForwardInference(encoder, { shape, layout, dtype, eps: EPS, x, y: out, stats, gamma, beta, runningMean, runningVar });
        }
      } else {
        what = 'encodeBackward in train mode (reduce, finalize, apply; the batch statistics come from an encodeForwardTrain run before timing)';
        const dy = await input('dy', data.dy, data.streams.dy as Stream, data.bits?.dy);
        const dgamma = keep(output(device, 'dgamma', C));
        const dbeta = keep(output(device, 'dbeta', C));
        // The forward pass that produces the statistics the backward reads; not timed. Its y goes
        // into the dx buffer, which the backward overwrites (one tensor less in memory).
        const encoder = device.createCommandEncoder({ label: 'bench.backward.forward' });
        this.gpu.encodeForwardTrain(encoder, { shape, layout, dtype, eps: EPS, x, y: out, stats, gamma, beta });
        device.queue.submit([encoder.finish()]);
        encode = (enc) => this.gpu.encodeBackward(enc, { dy, x, dx: out, stats, gamma, dgamma, dbeta, dz, shape, layout, dtype, eps: EPS, mode: 'train', activation: 'none' });
        if (handTunedGpu) handTuned = (enc) => handTunedGpu.encodeBackward(enc, { dy, x, dx: out, stats, gamma, dgamma, dbeta, dz, shape, layout, dtype, eps: EPS, mode: 'train', activation: 'none' });
        dispatches = this.gpu.dispatchCount('backward', { shape, layout, dtype, residual: dz !== undefined });
        if (dz) what = `encodeBackward in train mode${withResidual} (reduce, finalize, apply; the batch statistics come from an encodeForwardTrain run before timing)`;
        else if (dispatches === 1 && threeKernelGpu) {
          what = 'encodeBackward in train mode, in one dispatch (sums, dgamma and dbeta, dx; the batch statistics come from an encodeForwardTrain run before timing)';
          threeKernels = (enc) => threeKernelGpu.encodeBackward(enc, { dy, x, dx: out, stats, gamma, dgamma, dbeta, shape, layout, dtype, eps: EPS, mode: 'train', activation: 'none' });
        }
        perChannel = { dgamma: [dgamma, 0], dbeta: [dbeta, 0] };
      }
      const tensors: Record<string, GPUBuffer> = dz ? { dz } : {};
      const variants: Encode[] = [...copy.variants];
      const copies = variants.length;
      if (encode) variants.push(encode);
      // Comparisons timed interleaved with the call, after it: [name, encode, its engine].
      const comparisons: [string, Encode, GpuBatchNorm][] = [];
      if (threeKernels && threeKernelGpu) comparisons.push(['threeKernels', threeKernels, threeKernelGpu]);
      if (handTuned && handTunedGpu) comparisons.push(['handTuned', handTuned, handTunedGpu]);
      for (const [, variant] of comparisons) variants.push(variant);
      let samples: Samples[] | undefined;
      let failure: string | undefined;
      try {
        samples = await withErrorScopes(device, () => timeGpuInterleaved(this.timer, variants, plan));
        failure = await this.engineErrors();
      } catch (error) {
        if (!encode) throw error;
        // The engine's own message (e.g. a binding above the device's limit) explains the rest.
        failure = (await this.engineErrors()) ?? oneLine(error);
        samples = undefined;
      }
      if (failure) {
        // Our kernel failed: report it (the floor was timed with it, or is timed alone below).
        missing.push({ impl: 'webgpu', reason: `failed: ${failure}` });
        encode = undefined;
      }
      samples ??= await withErrorScopes(device, () => timeGpuInterleaved(this.timer, variants.slice(0, copies), plan));
      const floor = copy.fastest(samples.slice(0, copies).map((s) => summarize(s).ms));
      rows.push({ impl: 'copy', ...summarize(samples[floor]), timer: timerName, timed: gpuTimed(copy.describe(floor)) });
      if (encode && samples[copies]) {
        // A comparison ran last: the checked outputs are the call's own again.
        if (comparisons.length > 0) await this.timer.batch(encode, 1);
        const family = op === 'backward' ? 'backward' : op === 'inference' ? 'inference' : 'forwardTrain';
        const extra: Record<string, number> = {};
        for (const [c, [name, , engine]] of comparisons.entries()) {
          if (samples[copies + 1 + c] === undefined) continue;
          extra[`${name}Ms`] = summarize(samples[copies + 1 + c]).ms;
          extra[`${name}Dispatches`] = engine.dispatchCount(family, { shape, layout, dtype, residual: residual !== undefined || dz !== undefined });
        }
        rows.push({
          impl: 'webgpu',
          ...summarize(samples[copies]),
          timer: timerName,
          timed: gpuTimed(dtype === 'float16' ? `${what}, with dtype 'float16' (float16 x, y, dy, dx, z, dz)` : what),
          ...(await this.check(data, main, perChannel, tensors)),
          reference: data.referenceSource,
          ...(dispatches !== undefined ? { dispatches } : {}),
          ...(Object.keys(extra).length > 0 ? { extra } : {}),
        });
      }
    } finally {
      copy?.destroy();
      await device.queue.onSubmittedWorkDone();
      for (const buffer of buffers) buffer.destroy();
    }
    return { rows, missing };
  }

  /** Errors of the outputs: whole against the CPU reference (host cases), else streamed (see streamed-reference.ts). */
  private async check(data: CaseData, main: { name: string; buffer: GPUBuffer }, perChannel: Record<string, [GPUBuffer, number]>, tensors: Record<string, GPUBuffer> = {}): Promise<Errors> {
    const { device } = this.bench;
    const C = data.view.channels;
    const channelOutputs: Record<string, Float32Array> = {};
    for (const [name, [buffer, offset]] of Object.entries(perChannel)) channelOutputs[name] = await readBack(device, buffer, offset, C);
    if (!data.streamed) {
      // Other tensor outputs (dz) are checked in host cases only.
      const others: Record<string, Float32Array> = {};
      for (const [name, buffer] of Object.entries(tensors)) others[name] = await readTensor(device, buffer, data.view.size, data.dtype);
      return errorsAgainst(data.reference, { [main.name]: await readTensor(device, main.buffer, data.view.size, data.dtype), ...channelOutputs, ...others });
    }
    const streamed = data.streamed;
    const check = new StreamedCheck(data, streamed, EPS);
    await readInChunks(device, main.buffer, data.view.size, (chunk) => check.feed(chunk));
    const reference: Record<string, ArrayLike<number>> = {
      mean: streamed.mean,
      variance: streamed.variance,
      ...(streamed.dgamma ? { dgamma: streamed.dgamma } : {}),
      ...(streamed.dbeta ? { dbeta: streamed.dbeta } : {}),
    };
    const errors: Record<string, number> = { [main.name]: check.maxAbsErr };
    for (const [name, values] of Object.entries(channelOutputs)) errors[name] = maxAbsDiff(values, reference[name]);
    return { maxAbsErr: errors[main.name], errors };
  }

  /** The host-array API on the CPU path; outputs are new arrays, as a caller gets them. */
  async measureCpu(data: CaseData, plan: TimingPlan): Promise<PageResult> {
    if (data.bits) return this.measureCpuFloat16(data, data.bits, plan);
    const opts = libraryOptions(data);
    const engine = this.cpuEngine;
    const x = hostX(data);
    let run: () => Promise<Record<string, Float32Array>>;
    let what: string;
    const residual = data.z ? ' with a residual' : '';
    if (baseOp(data.spec.op) === 'forward-train') {
      what = `bn.forwardTrain(x, options) on the CPU path (statistics, running statistics, y${residual})`;
      run = async () => {
        const out = await engine.forwardTrain(x, opts);
        return { y: out.y, mean: out.mean, variance: out.variance };
      };
    } else if (data.spec.op === 'inference') {
      what = 'bn.forwardInference(x, options) on the CPU path';
      run = async () => ({ y: await engine.forwardInference(x, opts) });
    } else {
      what = `bn.backward(dy, x, options, saved) on the CPU path (saved batch statistics from forwardTrain${residual ? '; dz returned' : ''})`;
      const saved = data.saved as NonNullable<CaseData['saved']>;
      run = async () => {
        const out = await engine.backward(data.dy as Float32Array, x, opts, saved);
        return { dx: out.dx, dgamma: out.dgamma, dbeta: out.dbeta, ...(out.dz ? { dz: out.dz } : {}) };
      };
    }
    return timeCpuRow(data, run, what, plan);
  }

  /**
   * The cpu row of a float16 case: the host-array API with dtype 'float16' on arrays of float16
   * bits (as a caller without Float16Array passes them); its float16 outputs are decoded for the check.
   */
  private async measureCpuFloat16(data: CaseData, bits: NonNullable<CaseData['bits']>, plan: TimingPlan): Promise<PageResult> {
    const opts = { ...libraryOptions(data), residual: bits.z, dtype: 'float16' as const };
    const engine = this.cpuEngine;
    const residual = bits.z ? ' with a residual' : '';
    let run: () => Promise<Record<string, Float32Array>>;
    let what: string;
    if (baseOp(data.spec.op) === 'forward-train') {
      what = `bn.forwardTrain(x, { dtype: 'float16', … }) on the CPU path (statistics, running statistics, float16 y${residual})`;
      run = async () => {
        const out = await engine.forwardTrain(bits.x, opts);
        return { y: decodeFloat16(out.y), mean: out.mean, variance: out.variance };
      };
    } else if (data.spec.op === 'inference') {
      what = `bn.forwardInference(x, { dtype: 'float16', … }) on the CPU path`;
      run = async () => ({ y: decodeFloat16(await engine.forwardInference(bits.x, opts)) });
    } else {
      what = `bn.backward(dy, x, { dtype: 'float16', … }, saved) on the CPU path (saved batch statistics from forwardTrain; float16 dx${residual ? ' and dz' : ''})`;
      const saved = data.saved as NonNullable<CaseData['saved']>;
      const dy = bits.dy as Uint16Array;
      run = async () => {
        const out = await engine.backward(dy, bits.x, opts, saved);
        return { dx: decodeFloat16(out.dx), dgamma: out.dgamma, dbeta: out.dbeta, ...(out.dz ? { dz: decodeFloat16(out.dz) } : {}) };
      };
    }
    return timeCpuRow(data, run, what, plan);
  }
}

/** The cpu row of a case: `run` timed on the wall clock, its last outputs checked against the reference. */
export async function timeCpuRow(data: CaseData, run: () => Promise<Record<string, Float32Array>>, what: string, plan: TimingPlan): Promise<PageResult> {
  let last: Record<string, Float32Array> = {};
  let samples;
  try {
    samples = await timeHost(async () => void (last = await run()), plan);
  } catch (error) {
    return { rows: [], missing: [{ impl: 'cpu', reason: `failed: ${String((error as Error).message ?? error)}` }] };
  }
  return {
    rows: [{ impl: 'cpu', ...summarize(samples), timer: 'wall-clock', timed: `wall clock of ${what}, per call`, ...errorsAgainst(data.reference, last), reference: data.referenceSource }],
    missing: [],
  };
}
