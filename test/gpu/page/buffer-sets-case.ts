/**
 * The engine keeps compiled passes and bind groups between GPU-resident calls, per set of buffers
 * (src/gpu/program-cache.ts). Here one shape is encoded again and again, as a training loop does,
 * on buffer sets that change from step to step: a first set, a second one, the first again with new
 * contents, the first with x and y destroyed and replaced by new buffers, that again, x passed as
 * dy too, γ and β in one buffer, then the first set again. Every step runs forwardTrain, backward
 * and forwardInference on poisoned outputs and checks them against the float64 reference; it also
 * counts the device calls each call made (bind groups created, error scopes pushed), so the test
 * sees that a repeated set is served from the cache and a new one is not.
 */
import { channelView, createBatchNorm, type BatchNorm, type Layout } from '../../../src/index';
import { type KernelTuning } from '../../../src/advanced';
import { backwardTolerances, gpuBackwardTerms } from '../../support/backward-tolerances';
import { splitShape } from '../../support/channel-index';
import { check, inferenceChecks, trainChecks, type OutputCheck } from '../../support/forward-checks';
import { caseSeed, channelNormals, createRng, normals, type Rng } from '../../support/random';
import type { ReferenceParams } from '../../support/reference';
import { referenceBackward } from '../../support/reference-backward';
import { gpuStatisticsTerms } from '../../support/tolerances';
import { readBuffer, storageBuffer } from './gpu-buffers';

export interface BufferSetsSpec {
  name: string;
  seed: number;
  shape: number[];
  layout: Layout;
  activation: 'none' | 'relu';
  tuning?: Partial<KernelTuning>;
}

export interface DeviceCalls {
  bindGroups: number;
  scopes: number;
}

export interface BufferSetsStep {
  label: string;
  checks: OutputCheck[];
  calls: { forwardTrain: DeviceCalls; backward: DeviceCalls; inference: DeviceCalls };
  /** What checkErrors() said after the step ('accepted', or the error's message). */
  errors: string;
}

export interface BufferSetsReport {
  steps: BufferSetsStep[];
}

type Buffers = Record<'x' | 'y' | 'dy' | 'dx' | 'stats' | 'gamma' | 'beta' | 'runningMean' | 'runningVar' | 'dgamma' | 'dbeta', GPUBuffer>;

/** Counts the device calls a GPU-resident call makes, by shadowing the device's methods meanwhile. */
export function counted(device: GPUDevice, work: () => void): DeviceCalls {
  const calls = { bindGroups: 0, scopes: 0 };
  const { createBindGroup, pushErrorScope } = device;
  device.createBindGroup = (descriptor) => {
    calls.bindGroups += 1;
    return createBindGroup.call(device, descriptor);
  };
  device.pushErrorScope = (filter) => {
    calls.scopes += 1;
    return pushErrorScope.call(device, filter);
  };
  try {
    work();
  } finally {
    delete (device as Partial<GPUDevice>).createBindGroup;
    delete (device as Partial<GPUDevice>).pushErrorScope;
  }
  return calls;
}

async function outcome(work: Promise<unknown>): Promise<string> {
  try {
    await work;
    return 'accepted';
  } catch (error) {
    return String((error as Error).message ?? error);
  }
}

function write(device: GPUDevice, buffer: GPUBuffer, values: Float32Array): void {
  device.queue.writeBuffer(buffer, 0, new Float32Array(values));
}

function poison(device: GPUDevice, buffers: GPUBuffer[]): void {
  for (const buffer of buffers) device.queue.writeBuffer(buffer, 0, new Float32Array(buffer.size / 4).fill(NaN));
}

export async function runBufferSetsCase(spec: BufferSetsSpec): Promise<BufferSetsReport> {
  const bn: BatchNorm = await createBatchNorm({ backend: 'webgpu', tuning: spec.tuning });
  const gpu = bn.gpu!;
  const device = gpu.device;
  const rng: Rng = createRng(caseSeed(spec.seed, spec.name));
  const { channels: C } = splitShape(spec.shape, spec.layout);
  const N = spec.shape.reduce((a, b) => a * b, 1);
  const made: GPUBuffer[] = [];
  const buffer = (label: string, values: number) => {
    const b = storageBuffer(device, label, new Float32Array(values).fill(NaN));
    made.push(b);
    return b;
  };
  const newSet = (label: string): Buffers => ({
    x: buffer(`${label}.x`, N),
    y: buffer(`${label}.y`, N),
    dy: buffer(`${label}.dy`, N),
    dx: buffer(`${label}.dx`, N),
    stats: buffer(`${label}.stats`, 5 * C),
    gamma: buffer(`${label}.gamma`, C),
    beta: buffer(`${label}.beta`, C),
    runningMean: buffer(`${label}.runningMean`, C),
    runningVar: buffer(`${label}.runningVar`, C),
    dgamma: buffer(`${label}.dgamma`, C),
    dbeta: buffer(`${label}.dbeta`, C),
  });
  const setA = newSet('A');
  const setB = newSet('B');
  const replaced = (set: Buffers, label: string): Buffers => {
    set.x.destroy();
    set.y.destroy();
    return { ...set, x: buffer(`${label}.x`, N), y: buffer(`${label}.y`, N) };
  };

  const steps: BufferSetsStep[] = [];
  const step = async (label: string, set: Buffers, variant: { dyIsX?: boolean; gammaIsBeta?: boolean } = {}) => {
    const means = Array.from({ length: C }, () => 3 * rng.normal());
    const stds = Array.from({ length: C }, () => 0.5 + rng.uniform());
    const x = channelNormals(rng, spec.shape, spec.layout, means, stds);
    const dy = variant.dyIsX ? x : normals(rng, N);
    const gamma = normals(rng, C, 1, 0.5);
    const beta = variant.gammaIsBeta ? gamma : normals(rng, C, 0, 0.5);
    const runningMean = Float32Array.from(means, (m) => m + 0.1 * rng.normal());
    const runningVar = Float32Array.from(stds, (s) => s * s * (0.5 + rng.uniform()));
    const bound = { ...set, dy: variant.dyIsX ? set.x : set.dy, beta: variant.gammaIsBeta ? set.gamma : set.beta };
    write(device, bound.x, x);
    if (!variant.dyIsX) write(device, bound.dy, dy);
    write(device, bound.gamma, gamma);
    if (!variant.gammaIsBeta) write(device, bound.beta, beta);
    const writeRunning = () => {
      write(device, bound.runningMean, runningMean);
      write(device, bound.runningVar, runningVar);
    };
    writeRunning();
    poison(device, [bound.y, bound.stats, bound.dx, bound.dgamma, bound.dbeta]);

    const params: ReferenceParams = {
      shape: spec.shape,
      layout: spec.layout,
      gamma,
      beta,
      eps: 1e-5,
      momentum: 0.1,
      convention: 'pytorch',
      activation: spec.activation,
      runningMean,
      runningVar,
    };
    const options = { shape: spec.shape, layout: spec.layout, activation: spec.activation };
    const forwardArgs = { ...options, x: bound.x, y: bound.y, stats: bound.stats, gamma: bound.gamma, beta: bound.beta, runningMean: bound.runningMean, runningVar: bound.runningVar };

    const forward = device.createCommandEncoder({ label: `test.bufferSets.${label}.forward` });
    const forwardCalls = counted(device, () => gpu.encodeForwardTrain(forward, forwardArgs));
    device.queue.submit([forward.finish()]);
    const y = await readBuffer(device, bound.y, N);
    const stats = await readBuffer(device, bound.stats, 5 * C);
    const trained = {
      y,
      mean: stats.subarray(0, C),
      variance: stats.subarray(C, 2 * C),
      invStd: stats.subarray(2 * C, 3 * C),
      runningMean: await readBuffer(device, bound.runningMean, C),
      runningVar: await readBuffer(device, bound.runningVar, C),
    };
    const checks = trainChecks(x, params, trained, `${label} forwardTrain`, gpuStatisticsTerms(channelView(spec.shape, spec.layout), gpu));

    const backward = device.createCommandEncoder({ label: `test.bufferSets.${label}.backward` });
    const backwardArgs = { ...options, dy: bound.dy, x: bound.x, y: bound.y, dx: bound.dx, stats: bound.stats, gamma: bound.gamma, dgamma: bound.dgamma, dbeta: bound.dbeta };
    const backwardCalls = counted(device, () => gpu.encodeBackward(backward, backwardArgs));
    device.queue.submit([backward.finish()]);
    const saved = { mean: stats.slice(0, C), invStd: stats.slice(2 * C, 3 * C) };
    const ref = referenceBackward(x, dy, params, { mode: 'train', stats: saved, y });
    const tol = backwardTolerances(x, dy, params, ref, 'train', { terms: gpuBackwardTerms(channelView(spec.shape, spec.layout), gpu) });
    checks.push(
      check('dx', `${label} backward`, await readBuffer(device, bound.dx, N), ref.dx, tol.dx),
      check('dgamma', `${label} backward`, await readBuffer(device, bound.dgamma, C), ref.dgamma, tol.dgamma),
      check('dbeta', `${label} backward`, await readBuffer(device, bound.dbeta, C), ref.dbeta, tol.dbeta),
    );

    writeRunning();
    poison(device, [bound.y, bound.stats]);
    const inference = device.createCommandEncoder({ label: `test.bufferSets.${label}.inference` });
    const inferenceCalls = counted(device, () => gpu.encodeForwardInference(inference, forwardArgs));
    device.queue.submit([inference.finish()]);
    checks.push(...inferenceChecks(x, params, await readBuffer(device, bound.y, N), `${label} inference`));

    // Also lets the calls' error scopes report, after which what they made is cached.
    const errors = await outcome(gpu.checkErrors());
    steps.push({ label, checks, calls: { forwardTrain: forwardCalls, backward: backwardCalls, inference: inferenceCalls }, errors });
  };

  try {
    await step('A', setA);
    await step('B', setB);
    await step('A again, new contents', setA);
    const setA2 = replaced(setA, 'A2');
    await step('A with x and y replaced', setA2);
    await step('A with x and y replaced, again', setA2);
    await step('A2, x as dy too', setA2, { dyIsX: true });
    await step('A2, γ and β one buffer', setA2, { gammaIsBeta: true });
    await step('A2 once more', setA2);
    return { steps };
  } finally {
    for (const b of made) b.destroy();
    bn.dispose();
  }
}

export interface CachedErrorsReport {
  /** checkErrors() after two calls with a buffer of another device, the second on the same buffer set. */
  twice: string;
  /** checkErrors() after a clean call made twice (the second from the cache). */
  clean: string;
  afterCleanCalls: DeviceCalls;
}

/**
 * A call whose bind group failed is never cached: the same call again fails again and is reported
 * again, as it was before there was a cache.
 */
export async function runCachedErrorsCase(): Promise<CachedErrorsReport> {
  const bn = await createBatchNorm({ backend: 'webgpu' });
  const gpu = bn.gpu!;
  const device = gpu.device;
  const adapter = await navigator.gpu.requestAdapter();
  const other = await adapter!.requestDevice({ label: 'test.otherDevice' });
  const values = Float32Array.from({ length: 40 }, (_, i) => Math.sin(i));
  const foreign = storageBuffer(other, 'foreign', values);
  const x = storageBuffer(device, 'x', values);
  const y = storageBuffer(device, 'y', new Float32Array(40));
  const stats = gpu.createStatsBuffer(4, 'test.stats');
  try {
    const shape = [10, 4];
    for (let i = 0; i < 2; i++) gpu.encodeForwardTrain(device.createCommandEncoder(), { shape, x: foreign, y, stats });
    const twice = await outcome(gpu.checkErrors());
    gpu.encodeForwardTrain(device.createCommandEncoder(), { shape, x, y, stats });
    await gpu.checkErrors();
    const afterCleanCalls = counted(device, () => gpu.encodeForwardTrain(device.createCommandEncoder(), { shape, x, y, stats }));
    const clean = await outcome(gpu.checkErrors());
    return { twice, clean, afterCleanCalls };
  } finally {
    for (const b of [foreign, x, y, stats]) b.destroy();
    other.destroy();
    bn.dispose();
  }
}
