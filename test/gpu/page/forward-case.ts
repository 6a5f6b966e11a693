/**
 * One forward case, run inside the page: seeded inputs, the GPU-resident path on poisoned output
 * buffers, the host-array path, and the float64 reference; returns the checks for Node to assert.
 */
import { createBatchNorm, type KernelTuning, type Layout } from '../../../src/index';
import { checkClose, maxErrors } from '../../support/compare';
import { caseSeed, channelNormals, createRng, normals } from '../../support/random';
import { referenceForwardInference, referenceForwardTrain, type ReferenceParams } from '../../support/reference';
import { channelOf, splitShape } from '../../support/channel-index';
import { ATOL, EPS32, LARGE_MEAN_VARIANCE_RTOL, MEAN_TERMS, VARIANCE_RTOL, Y_REL, Y_TERMS } from '../../support/tolerances';
import { readBuffer, storageBuffer } from './gpu-buffers';

export interface ForwardCase {
  name: string;
  seed: number;
  shape: number[];
  layout?: Layout;
  pass: 'train' | 'inference';
  activation: 'none' | 'relu';
  convention: 'pytorch' | 'keras';
  /** Channel means are drawn around this value (default 0) with this spread. */
  mean?: number;
  std?: number;
  affine?: boolean;
  running?: boolean;
  momentum?: number;
  eps?: number;
  tuning?: Partial<KernelTuning>;
}

export interface OutputCheck {
  output: string;
  path: 'resident' | 'host';
  failure: string | null;
  maxAbs: number;
  maxRel: number;
}

export interface ForwardReport {
  backend: string;
  checks: OutputCheck[];
  inputUnmodified: boolean;
}

function makeInputs(spec: ForwardCase) {
  const rng = createRng(caseSeed(spec.seed, spec.name));
  const { channels } = splitShape(spec.shape, spec.layout);
  const center = spec.mean ?? 0;
  const std = spec.std ?? 1;
  const means = Array.from({ length: channels }, () => center + (center === 0 ? rng.normal() : rng.uniform() - 0.5));
  const stds = Array.from({ length: channels }, () => std * (0.5 + rng.uniform()));
  const x = channelNormals(rng, spec.shape, spec.layout, means, stds);
  const affine = spec.affine ?? true;
  const gamma = affine ? normals(rng, channels, 1, 0.5) : undefined;
  const beta = affine ? normals(rng, channels, 0, 0.5) : undefined;
  const running = spec.running ?? true;
  const runningMean = running || spec.pass === 'inference' ? Float32Array.from(means, (m) => m + 0.1 * rng.normal()) : undefined;
  const runningVar = running || spec.pass === 'inference' ? Float32Array.from(stds, (s) => s * s * (0.5 + rng.uniform())) : undefined;
  return { x, gamma, beta, runningMean, runningVar };
}

function yTolerance(x: Float32Array, ref: Float64Array, spec: ForwardCase, scale: Float64Array, shift: Float64Array, beta?: Float32Array) {
  const { channels, inner } = splitShape(spec.shape, spec.layout);
  return (i: number) => {
    const c = channelOf(i, channels, inner);
    return Y_TERMS * EPS32 * (Math.abs(x[i] * scale[c]) + Math.abs(shift[c])) + Y_REL * Math.abs(ref[i] - (beta ? beta[c] : 0)) + ATOL;
  };
}

function check(output: string, path: OutputCheck['path'], actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Parameters<typeof checkClose>[2]): OutputCheck {
  const failure = checkClose(actual, expected, tol, `${path} ${output}`);
  return { output, path, failure: failure ? failure.message : null, ...maxErrors(actual, expected) };
}

// One engine (one device, its pipelines compiled once) per tuning for the whole page.
const engines = new Map<string, ReturnType<typeof createBatchNorm>>();
function engineFor(tuning: Partial<KernelTuning> | undefined) {
  const key = JSON.stringify(tuning ?? {});
  let engine = engines.get(key);
  if (!engine) {
    engine = createBatchNorm({ backend: 'webgpu', tuning });
    engines.set(key, engine);
  }
  return engine;
}

export async function runForwardCase(spec: ForwardCase): Promise<ForwardReport> {
  const inputs = makeInputs(spec);
  const xCopy = inputs.x.slice();
  const params: ReferenceParams = {
    shape: spec.shape,
    layout: spec.layout,
    gamma: inputs.gamma,
    beta: inputs.beta,
    eps: spec.eps ?? (spec.convention === 'keras' ? 1e-3 : 1e-5),
    momentum: spec.momentum ?? (spec.convention === 'keras' ? 0.99 : 0.1),
    convention: spec.convention,
    activation: spec.activation,
    runningMean: inputs.runningMean,
    runningVar: inputs.runningVar,
  };
  const opts = { ...params, shape: spec.shape, layout: spec.layout, ...inputs };
  const bn = await engineFor(spec.tuning);
  const gpu = bn.gpu!;
  const device = gpu.device;
  const { channels: C } = splitShape(spec.shape, spec.layout);
  const checks: OutputCheck[] = [];
    // GPU-resident path with every output poisoned (NaN), so an element a kernel skips shows.
    const buffers = {
      x: storageBuffer(device, 'x', inputs.x),
      y: storageBuffer(device, 'y', new Float32Array(inputs.x.length).fill(NaN)),
      stats: storageBuffer(device, 'stats', new Float32Array(5 * C).fill(NaN)),
      gamma: inputs.gamma && storageBuffer(device, 'gamma', inputs.gamma),
      beta: inputs.beta && storageBuffer(device, 'beta', inputs.beta),
      runningMean: inputs.runningMean && storageBuffer(device, 'runningMean', inputs.runningMean),
      runningVar: inputs.runningVar && storageBuffer(device, 'runningVar', inputs.runningVar),
    };
    const encoder = device.createCommandEncoder({ label: 'test.forward' });
    const args = { ...opts, ...buffers };
    if (spec.pass === 'train') gpu.encodeForwardTrain(encoder, args);
    else gpu.encodeForwardInference(encoder, args);
    device.queue.submit([encoder.finish()]);
    const residentY = await readBuffer(device, buffers.y, inputs.x.length);
    const residentStats = await readBuffer(device, buffers.stats, 5 * C);
    const xAfter = await readBuffer(device, buffers.x, inputs.x.length);
    const inputUnmodifiedOnGpu = xAfter.every((v, i) => Object.is(v, xCopy[i]));

    if (spec.pass === 'train') {
      const ref = referenceForwardTrain(inputs.x, params);
      const scale = ref.invStd.map((s, c) => (inputs.gamma ? inputs.gamma[c] : 1) * s);
      const shift = scale.map((s, c) => (inputs.beta ? inputs.beta[c] : 0) - ref.mean[c] * s);
      const yTol = yTolerance(inputs.x, ref.y, spec, scale, shift, inputs.beta);
      const meanTol = (c: number) => MEAN_TERMS * EPS32 * (Math.abs(ref.mean[c]) + Math.sqrt(ref.variance[c])) + ATOL;
      const varRtol = Math.abs(spec.mean ?? 0) > 100 ? LARGE_MEAN_VARIANCE_RTOL : VARIANCE_RTOL;
      const varTol = { rtol: varRtol, atol: 0 };
      const invStdTol = { rtol: varRtol / 2 + 4 * EPS32, atol: 0 };
      const host = await bn.forwardTrain(inputs.x, opts);
      for (const [path, y, mean, variance, invStd] of [
        ['resident', residentY, residentStats.subarray(0, C), residentStats.subarray(C, 2 * C), residentStats.subarray(2 * C, 3 * C)],
        ['host', host.y, host.mean, host.variance, host.invStd],
      ] as const) {
        checks.push(check('y', path, y, ref.y, yTol));
        checks.push(check('mean', path, mean, ref.mean, meanTol));
        checks.push(check('variance', path, variance, ref.variance, varTol));
        checks.push(check('invStd', path, invStd, ref.invStd, invStdTol));
      }
      if (ref.runningMean && ref.runningVar) {
        const rm = await readBuffer(device, buffers.runningMean!, C);
        const rv = await readBuffer(device, buffers.runningVar!, C);
        const rmTol = (c: number) => MEAN_TERMS * EPS32 * (Math.abs(ref.runningMean![c]) + Math.abs(ref.mean[c]) + Math.sqrt(ref.variance[c])) + ATOL;
        const rvTol = { rtol: varRtol, atol: ATOL };
        checks.push(check('runningMean', 'resident', rm, ref.runningMean, rmTol));
        checks.push(check('runningVar', 'resident', rv, ref.runningVar, rvTol));
        checks.push(check('runningMean', 'host', host.runningMean ?? [], ref.runningMean, rmTol));
        checks.push(check('runningVar', 'host', host.runningVar ?? [], ref.runningVar, rvTol));
      }
    } else {
      const ref = referenceForwardInference(inputs.x, params);
      const rm = inputs.runningMean!;
      const scale = Float64Array.from(inputs.runningVar!, (v, c) => (inputs.gamma ? inputs.gamma[c] : 1) / Math.sqrt(v + params.eps));
      const shift = scale.map((s, c) => (inputs.beta ? inputs.beta[c] : 0) - rm[c] * s);
      const yTol = yTolerance(inputs.x, ref, spec, scale, shift, inputs.beta);
      const host = await bn.forwardInference(inputs.x, opts);
      checks.push(check('y', 'resident', residentY, ref, yTol));
      checks.push(check('y', 'host', host, ref, yTol));
    }
    for (const buffer of Object.values(buffers)) buffer?.destroy();
    const inputUnmodified = inputUnmodifiedOnGpu && inputs.x.every((v, i) => Object.is(v, xCopy[i]));
    return { backend: bn.backend, checks, inputUnmodified };
}
