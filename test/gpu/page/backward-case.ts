/**
 * One backward case, run inside the page: seeded x and dy, a GPU forward for the stats buffer and
 * the output y (whose relu mask both backwards read), then the GPU-resident backward on poisoned
 * output buffers and the host-array backward, both checked against the float64 reference.
 *
 * The reference gets the statistics the GPU normalized with (the stats buffer: batch mean and
 * invStd in training, the folded running statistics in eval), as PyTorch's backward gets save_mean
 * and save_invstd; the forward tests check those statistics themselves. What is left is the
 * backward kernels' own float32 arithmetic, which backward-tolerances.ts bounds.
 */
import { channelView, type Layout } from '../../../src/index';
import { type KernelTuning } from '../../../src/advanced';
import { engineFor, type CaseDevice } from './case-engines';
import { backwardTolerances, CPU_BACKWARD_TERMS, gpuBackwardTerms } from '../../support/backward-tolerances';
import { F16_CPU, F16_GPU, float16Output } from '../../support/tolerances';
import { float16Input, isFloat16Result, quantize16, refusalCheck, toBits } from './float16-case';
import { splitShape } from '../../support/channel-index';
import { checkClose, maxErrors, toleranceUsed } from '../../support/compare';
import { caseSeed, channelNormals, createRng, normals } from '../../support/random';
import type { ReferenceParams } from '../../support/reference';
import { referenceBackward } from '../../support/reference-backward';
import { EPS32 } from '../../support/tolerances';
import { readBuffer, readHalf, storageBuffer } from './gpu-buffers';
import { shaderModuleNames } from '../../../src/gpu/pipelines';

export interface BackwardCase {
  name: string;
  seed: number;
  shape: number[];
  layout?: Layout;
  mode: 'train' | 'eval';
  activation: 'none' | 'relu';
  /** Channel means are drawn around this value (default 0) with this spread. */
  mean?: number;
  std?: number;
  /** false: no γ/β (γ = 1, β = 0). */
  affine?: boolean;
  eps?: number;
  /** The resident call adds to dgamma and dbeta, which start with random values. */
  accumulate?: boolean;
  /** false: the resident call passes no dgamma/dbeta (dx only). */
  paramGrads?: boolean;
  tuning?: Partial<KernelTuning>;
  device?: CaseDevice;
  /** The host-array call gets dy, x, γ, β, the running statistics and `saved` as arrays of numbers. */
  numberArrays?: boolean;
  /**
   * The forward adds a residual z (drawn ± 1 around `residualMean`, default 0), and both backwards
   * return dz: the resident one into a poisoned buffer, the host one given the forward's z.
   */
  residual?: boolean;
  residualMean?: number;
  /**
   * 'float16': x, dy (and z) rounded to float16 when drawn, y, dx and dz float16. Without
   * `shader-f16` the resident forward and backward must throw 'unsupported-dtype' with nothing
   * written, and the host calls (forward for `saved`, then backward) must give the CPU path's results.
   */
  dtype?: 'float16';
}

export interface BackwardCheck {
  output: 'dx' | 'dgamma' | 'dbeta' | 'dz' | 'dtype' | 'refusal';
  path: 'resident' | 'host';
  failure: string | null;
  maxAbs: number;
  maxRel: number;
  /** Largest |actual − expected| / tolerance; ≤ 1 passes. */
  used: number;
  /** The same error in units of ε times the terms' magnitude (used · terms). */
  epsOfTerms: number;
}

export interface BackwardReport {
  backend: string;
  checks: BackwardCheck[];
  inputUnmodified: boolean;
  /** Elements whose dy the relu mask zeroed, and all elements (so the test sees the mask bite). */
  masked: number;
  size: number;
  /** The device's maxStorageBufferBindingSize. */
  bindingLimit: number;
  /** Shader modules built so far on the engine's device (which kernels its cases ran). */
  modules: string[];
  /** Whether the engine's device has `shader-f16` (float16 cases: kernels, or the refusal). */
  shaderF16: boolean;
}

function makeInputs(spec: BackwardCase) {
  const rng = createRng(caseSeed(spec.seed, spec.name));
  const { channels } = splitShape(spec.shape, spec.layout);
  const center = spec.mean ?? 0;
  const std = spec.std ?? 1;
  const means = Array.from({ length: channels }, () => center + (center === 0 ? rng.normal() : rng.uniform() - 0.5));
  const stds = Array.from({ length: channels }, () => std * (0.5 + rng.uniform()));
  const x = channelNormals(rng, spec.shape, spec.layout, means, stds);
  const dy = normals(rng, x.length, 0, 1);
  const affine = spec.affine ?? true;
  const gamma = affine ? normals(rng, channels, 1, 0.5) : undefined;
  const beta = affine ? normals(rng, channels, 0, 0.5) : undefined;
  if (gamma && beta && spec.activation === 'relu') {
    // |β| ≤ |γ|, so that y = γ·x̂ + β ≤ 0 for at least the 16% of x̂ beyond one standard deviation
    // and the relu mask bites in every channel (with C = 1, a small γ and a large β once masked
    // nothing, about one seed in 200).
    beta.forEach((b, c) => (beta[c] = Math.max(-Math.abs(gamma[c]), Math.min(Math.abs(gamma[c]), b))));
  }
  const runningMean = Float32Array.from(means, (m) => m + 0.1 * rng.normal());
  const runningVar = Float32Array.from(stds, (s) => s * s * (0.5 + rng.uniform()));
  const initial = { dgamma: normals(rng, channels, 0, 10), dbeta: normals(rng, channels, 0, 10) };
  // Drawn last, so the other inputs of a case are the same with or without a residual.
  const residual = spec.residual ? normals(rng, x.length, spec.residualMean ?? 0, 1) : undefined;
  if (spec.dtype === 'float16') return { x: quantize16(x), dy: quantize16(dy), gamma, beta, runningMean, runningVar, initial, residual: residual && quantize16(residual) };
  return { x, dy, gamma, beta, runningMean, runningVar, initial, residual };
}

function check(output: BackwardCheck['output'], path: BackwardCheck['path'], actual: ArrayLike<number>, expected: ArrayLike<number>, tol: (i: number) => number, terms: number): BackwardCheck {
  const failure = checkClose(actual, expected, tol, `${path} ${output}`);
  const used = toleranceUsed(actual, expected, tol);
  return { output, path, failure: failure ? failure.message : null, ...maxErrors(actual, expected), used, epsOfTerms: used * terms };
}


const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

export async function runBackwardCase(spec: BackwardCase): Promise<BackwardReport> {
  const inputs = makeInputs(spec);
  const copies = { x: inputs.x.slice(), dy: inputs.dy.slice() };
  const eps = spec.eps ?? 1e-5;
  const options = { shape: spec.shape, layout: spec.layout, activation: spec.activation, eps };
  const bn = await engineFor(spec.tuning, spec.device);
  const gpu = bn.gpu!;
  const device = gpu.device;
  const { channels: C } = splitShape(spec.shape, spec.layout);
  const N = inputs.x.length;
  const half = spec.dtype === 'float16';
  const f16 = half && device.features.has('shader-f16');
  // A tensor as the device stores it: float32, or float16 bits.
  const tensor = (values: Float32Array) => (half ? toBits(values) : values);
  const readTensor = (buffer: GPUBuffer) => (half ? readHalf(device, buffer, N) : readBuffer(device, buffer, N));
  const checks: BackwardCheck[] = [];

  const buffers = {
    x: storageBuffer(device, 'x', tensor(inputs.x)),
    dy: storageBuffer(device, 'dy', tensor(inputs.dy)),
    y: storageBuffer(device, 'y', tensor(new Float32Array(N).fill(NaN))),
    stats: storageBuffer(device, 'stats', new Float32Array(5 * C).fill(NaN)),
    gamma: inputs.gamma && storageBuffer(device, 'gamma', inputs.gamma),
    beta: inputs.beta && storageBuffer(device, 'beta', inputs.beta),
    runningMean: storageBuffer(device, 'runningMean', inputs.runningMean),
    runningVar: storageBuffer(device, 'runningVar', inputs.runningVar),
    // Poisoned (NaN), so an element a kernel skips shows; or the values to accumulate onto.
    dx: storageBuffer(device, 'dx', tensor(new Float32Array(N).fill(NaN))),
    dgamma: storageBuffer(device, 'dgamma', spec.accumulate ? inputs.initial.dgamma : new Float32Array(C).fill(NaN)),
    dbeta: storageBuffer(device, 'dbeta', spec.accumulate ? inputs.initial.dbeta : new Float32Array(C).fill(NaN)),
    residual: inputs.residual && storageBuffer(device, 'residual', tensor(inputs.residual)),
    dz: inputs.residual && storageBuffer(device, 'dz', tensor(new Float32Array(N).fill(NaN))),
  };
  try {
    // The forward whose statistics (and output, for the relu mask) the backward belongs to.
    const forward = device.createCommandEncoder({ label: 'test.backward.forward' });
    const forwardArgs = { ...options, dtype: spec.dtype, x: buffers.x, y: buffers.y, stats: buffers.stats, gamma: buffers.gamma, beta: buffers.beta, residual: buffers.residual };
    let refused: unknown;
    try {
      if (spec.mode === 'train') gpu.encodeForwardTrain(forward, forwardArgs);
      else gpu.encodeForwardInference(forward, { ...forwardArgs, runningMean: buffers.runningMean, runningVar: buffers.runningVar });
    } catch (error) {
      if (!half || f16) throw error;
      refused = error;
    }
    device.queue.submit([forward.finish()]);
    let y = await readTensor(buffers.y);
    let stats = await readBuffer(device, buffers.stats, 5 * C);
    if (half && !f16) {
      checks.push(refusalCheck(refused, y.some((v) => !Number.isNaN(v)) || stats.some((v) => !Number.isNaN(v))));
      // The forward on the host API instead (the CPU path): its y and statistics are the backward's.
      const hostForwardOptions = { ...options, dtype: 'float16' as const, gamma: inputs.gamma, beta: inputs.beta, runningMean: inputs.runningMean, runningVar: inputs.runningVar, residual: inputs.residual && float16Input(inputs.residual) };
      const x16 = float16Input(inputs.x);
      if (spec.mode === 'train') {
        const result = await bn.forwardTrain(x16, hostForwardOptions);
        y = isFloat16Result(result.y, x16, checks);
        stats = new Float32Array(5 * C).fill(NaN);
        stats.set(result.mean, 0);
        stats.set(result.invStd, 2 * C);
      } else {
        y = isFloat16Result(await bn.forwardInference(x16, hostForwardOptions), x16, checks);
        stats = new Float32Array(5 * C).fill(NaN);
        stats.set(inputs.runningMean, 0);
        stats.set(Float32Array.from(inputs.runningVar, (v) => 1 / Math.sqrt(v + eps)), 2 * C);
      }
      // The host backward below gets these, and the resident one is refused: nothing to compare on the GPU.
      const writeBack = (buffer: GPUBuffer, data: Float32Array | Uint16Array) => {
        // writeBuffer takes whole 4-byte words: an odd count of float16 values is padded.
        const words = new Uint8Array(Math.ceil(data.byteLength / 4) * 4);
        words.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        device.queue.writeBuffer(buffer, 0, words);
      };
      writeBack(buffers.stats, stats);
      writeBack(buffers.y, tensor(y));
    }
    const saved = { mean: stats.slice(0, C), invStd: stats.slice(2 * C, 3 * C) };

    const encoder = device.createCommandEncoder({ label: 'test.backward' });
    const paramGrads = spec.paramGrads ?? true;
    const backwardArgs = {
      ...options,
      dtype: spec.dtype,
      mode: spec.mode,
      dy: buffers.dy,
      x: buffers.x,
      y: spec.activation === 'relu' ? buffers.y : undefined,
      dx: buffers.dx,
      stats: buffers.stats,
      gamma: buffers.gamma,
      dgamma: paramGrads ? buffers.dgamma : undefined,
      dbeta: paramGrads ? buffers.dbeta : undefined,
      dz: buffers.dz,
      accumulate: spec.accumulate,
    };
    refused = undefined;
    try {
      gpu.encodeBackward(encoder, backwardArgs);
    } catch (error) {
      if (!half || f16) throw error;
      refused = error;
    }
    device.queue.submit([encoder.finish()]);
    const resident = {
      dx: await readTensor(buffers.dx),
      dgamma: await readBuffer(device, buffers.dgamma, C),
      dbeta: await readBuffer(device, buffers.dbeta, C),
      dz: buffers.dz && (await readTensor(buffers.dz)),
    };
    if (half && !f16) {
      const written = resident.dx.some((v) => !Number.isNaN(v)) || (!spec.accumulate && (resident.dgamma.some((v) => !Number.isNaN(v)) || resident.dbeta.some((v) => !Number.isNaN(v))));
      checks.push(refusalCheck(refused, written));
    }
    const unmodifiedOnGpu =
      same(await readTensor(buffers.x), copies.x) &&
      same(await readTensor(buffers.dy), copies.dy) &&
      same(await readBuffer(device, buffers.stats, 5 * C), stats) &&
      same(await readTensor(buffers.y), y) &&
      (!buffers.residual || same(await readTensor(buffers.residual), inputs.residual!));

    const plain = <T extends Float32Array | undefined>(a: T) => (a && spec.numberArrays ? Array.from(a) : a);
    // float16 tensors as the runtime's float16 arrays; the others as plain() makes them.
    const hostTensor = (a: Float32Array) => (half ? (float16Input(a) as unknown as Float32Array) : plain(a));
    // The forward's z itself (its options passed on as they are) on one path of number arrays, `true` otherwise.
    const residual = inputs.residual && (spec.numberArrays ? Array.from(inputs.residual) : true);
    const hostOptions = { ...options, dtype: spec.dtype, gamma: plain(inputs.gamma), beta: plain(inputs.beta), runningMean: plain(inputs.runningMean), runningVar: plain(inputs.runningVar), mode: spec.mode, residual };
    const hostSaved = spec.mode === 'train' ? { mean: plain(saved.mean), invStd: plain(saved.invStd), y: hostTensor(y) } : { y: hostTensor(y) };
    const hostX = hostTensor(inputs.x);
    const hostResult = await bn.backward(hostTensor(inputs.dy), hostX, hostOptions, hostSaved);
    const host = half
      ? { ...hostResult, dx: isFloat16Result(hostResult.dx, hostX, checks), dz: hostResult.dz && isFloat16Result(hostResult.dz, hostX, checks) }
      : hostResult;

    const params: ReferenceParams = {
      shape: spec.shape,
      layout: spec.layout,
      gamma: inputs.gamma,
      beta: inputs.beta,
      eps,
      momentum: 0.1,
      convention: 'pytorch',
      activation: spec.activation,
      runningMean: inputs.runningMean,
      runningVar: inputs.runningVar,
    };
    const ref = referenceBackward(inputs.x, inputs.dy, params, { mode: spec.mode, stats: saved, y });
    // Without shader-f16 the host path is the CPU path, and there is no resident result.
    const terms = half && !f16 ? CPU_BACKWARD_TERMS : gpuBackwardTerms(channelView(spec.shape, spec.layout), gpu, half ? 2 : 4);
    const tol = backwardTolerances(inputs.x, inputs.dy, params, ref, spec.mode, { terms });
    // dx is float16 with dtype 'float16': its bound widened by the rounding of its store.
    const dxTol = half ? float16Output(tol.dx, ref.dx, f16 ? F16_GPU : F16_CPU) : tol.dx;
    const paths = half && !f16 ? ([['host', host]] as const) : ([['resident', resident], ['host', host]] as const);
    for (const [path, result] of paths) {
      checks.push(check('dx', path, result.dx, ref.dx, dxTol, terms));
      if (spec.residual) {
        // dz is dy or +0, copied, never computed: it must equal the reference's masked dy exactly.
        checks.push(check('dz', path, result.dz ?? [], ref.g, () => 0, terms));
      }
      let dgamma: ArrayLike<number> = ref.dgamma;
      let dbeta: ArrayLike<number> = ref.dbeta;
      let dgammaTol = tol.dgamma;
      let dbetaTol = tol.dbeta;
      if (path === 'resident' && spec.accumulate) {
        // One more float32 addition onto the initial values.
        const { dgamma: g0, dbeta: b0 } = inputs.initial;
        dgamma = ref.dgamma.map((v, c) => g0[c] + v);
        dbeta = ref.dbeta.map((v, c) => b0[c] + v);
        dgammaTol = (c) => tol.dgamma(c) + EPS32 * (Math.abs(g0[c]) + Math.abs(ref.dgamma[c]));
        dbetaTol = (c) => tol.dbeta(c) + EPS32 * (Math.abs(b0[c]) + Math.abs(ref.dbeta[c]));
      }
      if (path === 'resident' && !paramGrads) {
        // Not requested: the buffers must keep their poison, i.e. never be written.
        const untouched = resident.dgamma.every(Number.isNaN) && resident.dbeta.every(Number.isNaN);
        checks.push({ output: 'dgamma', path, failure: untouched ? null : 'dgamma/dbeta written although not passed', maxAbs: 0, maxRel: 0, used: 0, epsOfTerms: 0 });
        continue;
      }
      checks.push(check('dgamma', path, result.dgamma, dgamma, dgammaTol, terms));
      checks.push(check('dbeta', path, result.dbeta, dbeta, dbetaTol, terms));
    }
    const unmodifiedOnHost = same(inputs.x, copies.x) && same(inputs.dy, copies.dy);
    let masked = 0;
    for (let i = 0; i < N; i++) if (ref.g[i] === 0 && inputs.dy[i] !== 0) masked++;
    return { backend: bn.backend, checks, inputUnmodified: unmodifiedOnGpu && unmodifiedOnHost, masked, size: N, bindingLimit: device.limits.maxStorageBufferBindingSize, modules: shaderModuleNames(device), shaderF16: device.features.has('shader-f16') };
  } finally {
    for (const buffer of Object.values(buffers)) buffer?.destroy();
  }
}
