/**
 * Our two implementations: `webgpu` (the GPU-resident API on the benchmark's device, K calls
 * recorded into one encoder, nothing read back while timed) and `cpu` (the host-array API on the
 * CPU path). The copy floor is timed here too, interleaved with `webgpu`, on the same device.
 */
import { createBatchNorm, type BatchNorm, type GpuBatchNorm } from '../../src/index';
import type { MeasuredRow, MissingRow, PageResult, TimingPlan } from '../lib/types';
import type { BenchDevice } from './gpu-device';
import { EPS, libraryOptions, type CaseData } from './case-data';
import { copyKernel, copyShapeFor } from './copy-kernel';
import { maxAbsDiff } from './data';
import { GpuTimer, summarize, timeGpuInterleaved, timeHost, type Encode } from './timing';

const STORAGE = GPUBufferUsage.STORAGE;
const COPY = GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

function upload(device: GPUDevice, label: string, data: Float32Array): GPUBuffer {
  const buffer = device.createBuffer({ label: `bench.${label}`, size: Math.max(16, data.byteLength), usage: STORAGE | COPY, mappedAtCreation: true });
  new Float32Array(buffer.getMappedRange(), 0, data.length).set(data);
  buffer.unmap();
  return buffer;
}

function output(device: GPUDevice, label: string, elements: number): GPUBuffer {
  return device.createBuffer({ label: `bench.${label}`, size: Math.max(16, elements * 4), usage: STORAGE | COPY });
}

async function readBack(device: GPUDevice, buffer: GPUBuffer, offsetBytes: number, elements: number): Promise<Float32Array> {
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

function errorsAgainst(reference: Record<string, Float32Array>, actual: Record<string, Float32Array>): { maxAbsErr: number; errors: Record<string, number> } {
  const errors: Record<string, number> = {};
  for (const name of Object.keys(actual)) errors[name] = maxAbsDiff(actual[name], reference[name]);
  return { maxAbsErr: errors[Object.keys(actual)[0]], errors };
}

async function withErrorScopes<T>(device: GPUDevice, work: () => Promise<T>): Promise<T> {
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

export class Ours {
  readonly timer: GpuTimer;

  private constructor(
    readonly bench: BenchDevice,
    readonly gpuEngine: BatchNorm,
    readonly cpuEngine: BatchNorm,
  ) {
    this.timer = new GpuTimer(bench.device);
  }

  static async create(bench: BenchDevice): Promise<Ours> {
    const gpuEngine = await createBatchNorm({ backend: 'webgpu', device: bench.device });
    const cpuEngine = await createBatchNorm({ backend: 'cpu' });
    return new Ours(bench, gpuEngine, cpuEngine);
  }

  get gpu(): GpuBatchNorm {
    const gpu = this.gpuEngine.gpu;
    if (!gpu) throw new Error('the engine fell back to the CPU path (device lost?)');
    return gpu;
  }

  /** copy and webgpu, repetitions interleaved; then webgpu's outputs are checked against the reference. */
  async measureGpu(data: CaseData, plan: TimingPlan): Promise<PageResult> {
    const { device } = this.bench;
    const { op, shape, layout } = data.spec;
    const C = data.view.channels;
    const elements = data.view.size;
    const buffers: GPUBuffer[] = [];
    const keep = <T extends GPUBuffer>(buffer: T) => (buffers.push(buffer), buffer);
    const x = keep(upload(device, 'x', data.x));
    const copyDst = keep(output(device, 'copy.dst', elements));
    const copyShape = copyShapeFor(this.bench.adapter.isFallbackAdapter);
    const copy = copyKernel(device, x, copyDst, elements, 'copyVec4', copyShape);
    const missing: MissingRow[] = [];
    const rows: MeasuredRow[] = [];
    const timerName = this.timer.method;
    const gpuTimed = (what: string) =>
      this.timer.timestamps
        ? `GPU time (timestamp-query) of ${what}, K per submit, per iteration; no readback`
        : `wall clock from encoding to onSubmittedWorkDone of ${what}, K per submit, per iteration; no readback`;
    try {
      const gamma = keep(upload(device, 'gamma', data.gamma));
      const beta = keep(upload(device, 'beta', data.beta));
      const runningMean = keep(upload(device, 'runningMean', data.runningMean));
      const runningVar = keep(upload(device, 'runningVar', data.runningVar));
      const stats = keep(this.gpu.createStatsBuffer(C, 'bench.stats'));
      const out = keep(output(device, op === 'backward' ? 'dx' : 'y', elements));
      let encode: Encode | undefined;
      let what = '';
      let check: () => Promise<Record<string, Float32Array>> = async () => ({});
      if (op === 'forward-train') {
        what = 'encodeForwardTrain (stats, finalize with running-statistics update, apply)';
        encode = (encoder) => this.gpu.encodeForwardTrain(encoder, { shape, layout, eps: EPS, x, y: out, stats, gamma, beta, runningMean, runningVar });
        check = async () => ({
          y: await readBack(device, out, 0, elements),
          mean: await readBack(device, stats, this.gpu.statsByteOffset('mean', C), C),
          variance: await readBack(device, stats, this.gpu.statsByteOffset('variance', C), C),
        });
      } else if (op === 'inference') {
        what = 'encodeForwardInference (fold of running statistics, apply)';
        encode = (encoder) => this.gpu.encodeForwardInference(encoder, { shape, layout, eps: EPS, x, y: out, stats, gamma, beta, runningMean, runningVar });
        check = async () => ({ y: await readBack(device, out, 0, elements) });
      } else {
        what = 'encodeBackward in train mode (reduce, finalize, apply; the batch statistics come from an encodeForwardTrain run before timing)';
        const dy = keep(upload(device, 'dy', data.dy as Float32Array));
        const dgamma = keep(output(device, 'dgamma', C));
        const dbeta = keep(output(device, 'dbeta', C));
        // The forward pass that produces the statistics the backward reads; not timed.
        const encoder = device.createCommandEncoder({ label: 'bench.backward.forward' });
        this.gpu.encodeForwardTrain(encoder, { shape, layout, eps: EPS, x, y: keep(output(device, 'y', elements)), stats, gamma, beta });
        device.queue.submit([encoder.finish()]);
        encode = (enc) => this.gpu.encodeBackward(enc, { dy, x, dx: out, stats, gamma, dgamma, dbeta, shape, layout, eps: EPS, mode: 'train', activation: 'none' });
        check = async () => ({
          dx: await readBack(device, out, 0, elements),
          dgamma: await readBack(device, dgamma, 0, C),
          dbeta: await readBack(device, dbeta, 0, C),
        });
      }
      const variants: Encode[] = [(encoder) => copy.encode(encoder)];
      if (encode) variants.push(encode);
      let samples;
      try {
        samples = await withErrorScopes(device, () => timeGpuInterleaved(this.timer, variants, plan));
      } catch (error) {
        if (!encode) throw error;
        // Our kernel failed: report it, and still time the floor alone.
        missing.push({ impl: 'webgpu', reason: `failed: ${String((error as Error).message ?? error)}` });
        encode = undefined;
        samples = await withErrorScopes(device, () => timeGpuInterleaved(this.timer, variants.slice(0, 1), plan));
      }
      rows.push({
        impl: 'copy',
        ...summarize(samples[0]),
        timer: timerName,
        timed: gpuTimed(`a vec4 copy of x into another buffer (shaders/copy.wgsl, ${copyShape.workgroupSize} threads × ${copyShape.unitsPerThread} vec4 each)`),
      });
      if (encode && samples[1]) {
        const actual = await check();
        rows.push({
          impl: 'webgpu',
          ...summarize(samples[1]),
          timer: timerName,
          timed: gpuTimed(what),
          ...errorsAgainst(data.reference, actual),
          reference: data.referenceSource,
        });
      }
    } finally {
      copy.destroy();
      await device.queue.onSubmittedWorkDone();
      for (const buffer of buffers) buffer.destroy();
    }
    return { rows, missing };
  }

  /** The host-array API on the CPU path; outputs are new arrays, as a caller gets them. */
  async measureCpu(data: CaseData, plan: TimingPlan): Promise<PageResult> {
    const opts = libraryOptions(data);
    const engine = this.cpuEngine;
    let run: () => Promise<Record<string, Float32Array>>;
    let what: string;
    if (data.spec.op === 'forward-train') {
      what = 'bn.forwardTrain(x, options) on the CPU path (statistics, running statistics, y)';
      run = async () => {
        const out = await engine.forwardTrain(data.x, opts);
        return { y: out.y, mean: out.mean, variance: out.variance };
      };
    } else if (data.spec.op === 'inference') {
      what = 'bn.forwardInference(x, options) on the CPU path';
      run = async () => ({ y: await engine.forwardInference(data.x, opts) });
    } else {
      what = 'bn.backward(dy, x, options, saved) on the CPU path (saved batch statistics from forwardTrain)';
      const saved = data.saved as NonNullable<CaseData['saved']>;
      run = async () => {
        const out = await engine.backward(data.dy as Float32Array, data.x, opts, saved);
        return { dx: out.dx, dgamma: out.dgamma, dbeta: out.dbeta };
      };
    }
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
}
