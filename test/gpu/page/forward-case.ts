/**
 * One forward case, run inside the page: seeded inputs, the GPU-resident path on poisoned output
 * buffers, the host-array path, and the float64 reference; returns the checks for Node to assert.
 */
import type { Layout } from '../../../src/index';
import type { KernelTuning } from '../../../src/advanced';
import { engineFor, type CaseDevice } from './case-engines';
import { inferenceChecks, trainChecks, type OutputCheck } from '../../support/forward-checks';
import { CPU_STATISTICS_TERMS, F16_CPU, F16_GPU, gpuStatisticsTerms } from '../../support/tolerances';
import { float16Input, isFloat16Result, quantize16, refusalCheck, toBits } from './float16-case';
import { channelView } from '../../../src/index';
import { caseSeed, channelNormals, createRng, normals } from '../../support/random';
import type { ReferenceParams } from '../../support/reference';
import { channelOf, splitShape } from '../../support/channel-index';
import { readBuffer, readHalf, storageBuffer } from './gpu-buffers';
import { shaderModuleNames } from '../../../src/gpu/pipelines';

export interface ForwardCase {
  name: string;
  seed: number;
  shape: number[];
  layout?: Layout;
  pass: 'train' | 'inference';
  activation: 'none' | 'relu';
  convention: 'pytorch' | 'keras' | 'onnx';
  /** The host-array call gets x, γ, β and the running statistics as arrays of numbers. */
  numberArrays?: boolean;
  /** Channel means are drawn around this value (default 0) with this spread. */
  mean?: number;
  std?: number;
  /**
   * 'sorted': each channel's values ascending in memory order, so every chain of merges sees its
   * prefixes' means far from the channel's (the R² term of the statistics bound).
   */
  order?: 'sorted';
  affine?: boolean;
  running?: boolean;
  momentum?: number;
  eps?: number;
  tuning?: Partial<KernelTuning>;
  device?: CaseDevice;
  /** A residual add y = act(BN(x) + z), z drawn around `residualMean` (default 0) ± 1. */
  residual?: boolean;
  residualMean?: number;
  /**
   * 'float16': x (and z) drawn, then rounded to float16 (the reference sees the float16 values), y
   * float16. On a device with `shader-f16` both paths run the float16 kernels; without it the
   * resident call must throw 'unsupported-dtype' with nothing written, and the host call must give
   * the CPU path's result.
   */
  dtype?: 'float16';
}

export type { OutputCheck };

export interface ForwardReport {
  backend: string;
  checks: OutputCheck[];
  inputUnmodified: boolean;
  /** The device's maxStorageBufferBindingSize. */
  bindingLimit: number;
  /** Shader modules built so far on the engine's device (which kernels its cases ran). */
  modules: string[];
  /** bn.gpu.dispatchCount of the case (with its residual or not). */
  dispatches: number;
  /** Whether the engine's device has `shader-f16` (float16 cases: kernels, or the refusal). */
  shaderF16: boolean;
}

function sortChannels(x: Float32Array, shape: number[], layout: Layout | undefined): void {
  const { channels, inner } = splitShape(shape, layout);
  const indices: number[][] = Array.from({ length: channels }, () => []);
  for (let i = 0; i < x.length; i++) indices[channelOf(i, channels, inner)].push(i);
  for (const list of indices) {
    const sorted = Float32Array.from(list, (i) => x[i]).sort();
    list.forEach((i, k) => (x[i] = sorted[k]));
  }
}

function makeInputs(spec: ForwardCase) {
  const rng = createRng(caseSeed(spec.seed, spec.name));
  const { channels } = splitShape(spec.shape, spec.layout);
  const center = spec.mean ?? 0;
  const std = spec.std ?? 1;
  const means = Array.from({ length: channels }, () => center + (center === 0 ? rng.normal() : rng.uniform() - 0.5));
  const stds = Array.from({ length: channels }, () => std * (0.5 + rng.uniform()));
  const x = channelNormals(rng, spec.shape, spec.layout, means, stds);
  if (spec.order === 'sorted') sortChannels(x, spec.shape, spec.layout);
  const affine = spec.affine ?? true;
  const gamma = affine ? normals(rng, channels, 1, 0.5) : undefined;
  const beta = affine ? normals(rng, channels, 0, 0.5) : undefined;
  const running = spec.running ?? true;
  const runningMean = running || spec.pass === 'inference' ? Float32Array.from(means, (m) => m + 0.1 * rng.normal()) : undefined;
  const runningVar = running || spec.pass === 'inference' ? Float32Array.from(stds, (s) => s * s * (0.5 + rng.uniform())) : undefined;
  // Drawn last, so the other inputs of a case are the same with or without a residual.
  const residual = spec.residual ? normals(rng, x.length, spec.residualMean ?? 0, 1) : undefined;
  if (spec.dtype === 'float16') return { x: quantize16(x), gamma, beta, runningMean, runningVar, residual: residual && quantize16(residual) };
  return { x, gamma, beta, runningMean, runningVar, residual };
}

export async function runForwardCase(spec: ForwardCase): Promise<ForwardReport> {
  const inputs = makeInputs(spec);
  const xCopy = inputs.x.slice();
  const params: ReferenceParams = {
    shape: spec.shape,
    layout: spec.layout,
    gamma: inputs.gamma,
    beta: inputs.beta,
    // Each framework's defaults, spelled out here apart from the library's.
    eps: spec.eps ?? { pytorch: 1e-5, keras: 1e-3, onnx: 1e-5 }[spec.convention],
    momentum: spec.momentum ?? { pytorch: 0.1, keras: 0.99, onnx: 0.9 }[spec.convention],
    convention: spec.convention,
    activation: spec.activation,
    runningMean: inputs.runningMean,
    runningVar: inputs.runningVar,
    residual: inputs.residual,
  };
  const opts = { ...params, shape: spec.shape, layout: spec.layout, ...inputs };
  const zCopy = inputs.residual?.slice();
  const bn = await engineFor(spec.tuning, spec.device);
  const gpu = bn.gpu!;
  const device = gpu.device;
  const { channels: C } = splitShape(spec.shape, spec.layout);
  const checks: OutputCheck[] = [];
  const half = spec.dtype === 'float16';
  const f16 = half && device.features.has('shader-f16');
  const dispatches = gpu.dispatchCount(spec.pass === 'train' ? 'forwardTrain' : 'inference', { shape: spec.shape, layout: spec.layout, residual: inputs.residual !== undefined, dtype: spec.dtype });
  // A tensor as the device stores it: float32, or float16 bits.
  const tensor = (values: Float32Array) => (half ? toBits(values) : values);
  const readTensor = (buffer: GPUBuffer) => (half ? readHalf(device, buffer, inputs.x.length) : readBuffer(device, buffer, inputs.x.length));
    // GPU-resident path with every output poisoned (NaN), so an element a kernel skips shows.
    const buffers = {
      x: storageBuffer(device, 'x', tensor(inputs.x)),
      y: storageBuffer(device, 'y', tensor(new Float32Array(inputs.x.length).fill(NaN))),
      stats: storageBuffer(device, 'stats', new Float32Array(5 * C).fill(NaN)),
      gamma: inputs.gamma && storageBuffer(device, 'gamma', inputs.gamma),
      beta: inputs.beta && storageBuffer(device, 'beta', inputs.beta),
      runningMean: inputs.runningMean && storageBuffer(device, 'runningMean', inputs.runningMean),
      runningVar: inputs.runningVar && storageBuffer(device, 'runningVar', inputs.runningVar),
      residual: inputs.residual && storageBuffer(device, 'residual', tensor(inputs.residual)),
    };
    const encoder = device.createCommandEncoder({ label: 'test.forward' });
    const args = { ...opts, ...buffers, dtype: spec.dtype };
    let refusal: unknown;
    try {
      if (spec.pass === 'train') gpu.encodeForwardTrain(encoder, args);
      else gpu.encodeForwardInference(encoder, args);
    } catch (error) {
      if (!half || f16) throw error;
      refusal = error;
    }
    device.queue.submit([encoder.finish()]);
    const residentY = await readTensor(buffers.y);
    const residentStats = await readBuffer(device, buffers.stats, 5 * C);
    const xAfter = await readTensor(buffers.x);
    const zAfter = buffers.residual && (await readTensor(buffers.residual));
    const inputUnmodifiedOnGpu = xAfter.every((v, i) => Object.is(v, xCopy[i])) && (!zAfter || zAfter.every((v, i) => Object.is(v, zCopy![i])));
    if (half && !f16) {
      // No shader-f16: the typed error before any GPU work, every output still poisoned.
      const written = residentY.some((v) => !Number.isNaN(v)) || residentStats.some((v) => !Number.isNaN(v));
      checks.push(refusalCheck(refusal, written));
    }

    // The host path runs the float16 kernels with shader-f16, the CPU path without.
    const terms = half && !f16 ? CPU_STATISTICS_TERMS : gpuStatisticsTerms(channelView(spec.shape, spec.layout), gpu, half ? 2 : 4);
    const rounding = half ? (f16 ? F16_GPU : F16_CPU) : undefined;
    const plain = (a: Float32Array | undefined) => (a && spec.numberArrays ? Array.from(a) : a);
    const hostTensor = (a: Float32Array | undefined) => (a && half ? float16Input(a) : plain(a));
    const hostX = hostTensor(inputs.x)!;
    const hostOpts = { ...opts, gamma: plain(inputs.gamma), beta: plain(inputs.beta), runningMean: plain(inputs.runningMean), runningVar: plain(inputs.runningVar), residual: hostTensor(inputs.residual), dtype: spec.dtype };
    if (spec.pass === 'train') {
      const hostResult = await bn.forwardTrain(hostX as Float32Array, hostOpts as typeof opts);
      const host = { ...hostResult, y: half ? isFloat16Result(hostResult.y, hostX, checks) : hostResult.y };
      const resident = {
        y: residentY,
        mean: residentStats.subarray(0, C),
        variance: residentStats.subarray(C, 2 * C),
        invStd: residentStats.subarray(2 * C, 3 * C),
        runningMean: buffers.runningMean && (await readBuffer(device, buffers.runningMean, C)),
        runningVar: buffers.runningVar && (await readBuffer(device, buffers.runningVar, C)),
      };
      if (!half || f16) checks.push(...trainChecks(inputs.x, params, resident, 'resident', terms, rounding));
      checks.push(...trainChecks(inputs.x, params, host, 'host', terms, rounding));
    } else {
      const hostY = await bn.forwardInference(hostX as Float32Array, hostOpts as typeof opts);
      const host = half ? isFloat16Result(hostY, hostX, checks) : hostY;
      if (!half || f16) checks.push(...inferenceChecks(inputs.x, params, residentY, 'resident', rounding, residentStats));
      checks.push(...inferenceChecks(inputs.x, params, host, 'host', rounding));
    }
    for (const buffer of Object.values(buffers)) buffer?.destroy();
    const inputUnmodified = inputUnmodifiedOnGpu && inputs.x.every((v, i) => Object.is(v, xCopy[i])) && (!zCopy || inputs.residual!.every((v, i) => Object.is(v, zCopy[i])));
    return { backend: bn.backend, checks, inputUnmodified, bindingLimit: device.limits.maxStorageBufferBindingSize, modules: shaderModuleNames(device), dispatches, shaderF16: device.features.has('shader-f16') };
}
