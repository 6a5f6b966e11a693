/**
 * The randomized differential test, page side: case `index` of a run is drawn from
 * caseSeed(seed, `differential ${index}`) — shape, layout, op (forward-train, inference, backward
 * in train or eval mode; 1-D inputs [N] among the shapes), convention (PyTorch, Keras, ONNX),
 * activation, momentum, eps (0 included), affine or not, running statistics
 * or not, data center and spread, accumulate — and checked against the float64 references with the
 * tolerances of test/support (forward-checks.ts, backward-tolerances.ts). Three cases in four go
 * through the GPU-resident API, all recorded into one encoder per batch and read back with one map;
 * the rest through the host-array API, concurrently.
 */
import { channelView, createBatchNorm, layouts, type BatchNorm, type Layout } from '../../../src/index';
import { CopyPlan, floatsAt } from '../../../src/gpu/readback';
import { backwardTolerances, gpuBackwardTerms } from '../../support/backward-tolerances';
import { gpuStatisticsTerms } from '../../support/tolerances';
import { splitShape } from '../../support/channel-index';
import { checkClose } from '../../support/compare';
import { inferenceChecks, trainChecks, type OutputCheck } from '../../support/forward-checks';
import { caseSeed, channelNormals, createRng, normals, type Rng } from '../../support/random';
import type { ReferenceParams } from '../../support/reference';
import { referenceBackward } from '../../support/reference-backward';
import { EPS32 } from '../../support/tolerances';
import { storageBuffer } from './gpu-buffers';

export interface DifferentialSpec {
  index: number;
  op: 'forward-train' | 'inference' | 'backward';
  mode: 'train' | 'eval';
  api: 'resident' | 'host';
  layout: Layout | undefined;
  shape: number[];
  convention: 'pytorch' | 'keras' | 'onnx';
  activation: 'none' | 'relu';
  momentum: number | undefined;
  eps: number | undefined;
  affine: boolean;
  running: boolean;
  center: number;
  spread: number;
  accumulate: boolean;
  /** A cap on the engine's storage bindings, so that a quarter of the cases run in slabs. */
  maxBindingBytes: number | undefined;
}

export interface DifferentialReport {
  cases: number;
  counts: Record<string, number>;
  failures: { spec: DifferentialSpec; failures: string[] }[];
}

const rank: Record<Layout, number> = { NC: 2, NCL: 3, NLC: 3, NCHW: 4, NHWC: 4, NCDHW: 5, NDHWC: 5 };
const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng.uniform() * items.length)];
const int = (rng: Rng, low: number, high: number) => low + Math.floor(rng.uniform() * (high - low + 1));

export function drawCase(seed: number, index: number): DifferentialSpec {
  const rng = createRng(caseSeed(seed, `differential ${index}`));
  const r = rng.uniform();
  const op = r < 0.4 ? 'forward-train' : r < 0.65 ? 'inference' : 'backward';
  const mode = op === 'backward' && rng.uniform() < 0.4 ? 'eval' : 'train';
  // The host-array API runs forward-train, inference and training backward (see the header).
  const api = rng.uniform() < 0.25 && !(op === 'backward' && mode === 'eval') ? 'host' : 'resident';
  const layout = rng.uniform() < 0.1 ? undefined : pick(rng, layouts);
  const needsBatch = op === 'forward-train' || (op === 'backward' && mode === 'train');
  let shape: number[];
  do {
    const n = rank[layout ?? 'NCHW'] - (layout === undefined ? int(rng, 0, 2) : 0);
    const axis = layout ? layout.indexOf('C') : 1;
    // Without a layout, a 1-D input [N] (one channel, as ONNX allows) one time in five.
    shape = layout === undefined && rng.uniform() < 0.2 ? [int(rng, 1, 1500)] : Array.from({ length: n }, (_, d) => (d === axis ? pick(rng, [1, 2, 3, 4, 5, 7, 8, 12, 16]) : n === 2 ? int(rng, 1, 40) : int(rng, 1, 6)));
    const view = channelView(shape, layout);
    if (view.size <= 1500 && (!needsBatch || view.count >= 2)) break;
  } while (true);
  const large = rng.uniform() < 0.1;
  return {
    index,
    op,
    mode,
    api,
    layout,
    shape,
    convention: pick(rng, ['pytorch', 'keras', 'onnx'] as const),
    activation: rng.uniform() < 0.5 ? 'relu' : 'none',
    momentum: rng.uniform() < 0.5 ? undefined : pick(rng, [0, 1, rng.uniform(), rng.uniform()]),
    eps: rng.uniform() < 0.5 ? undefined : rng.uniform() < 0.1 ? 0 : 10 ** (-6 + 5 * rng.uniform()),
    affine: rng.uniform() < 0.8,
    running: op !== 'forward-train' || rng.uniform() < 0.7,
    center: large ? pick(rng, [-1, 1]) * 10 ** (3 + rng.uniform()) : 3 * rng.normal(),
    spread: large ? 1 : 10 ** (-1 + 2 * rng.uniform()),
    accumulate: rng.uniform() < 0.3,
    maxBindingBytes: rng.uniform() < 0.25 ? pick(rng, [1024, 1280, 2048]) : undefined,
  };
}

interface Inputs {
  x: Float32Array;
  dy: Float32Array;
  gamma?: Float32Array;
  beta?: Float32Array;
  runningMean?: Float32Array;
  runningVar?: Float32Array;
  initial: { dgamma: Float32Array; dbeta: Float32Array };
}

function inputsOf(seed: number, s: DifferentialSpec): Inputs {
  const rng = createRng(caseSeed(seed, `differential inputs ${s.index}`));
  const { channels } = splitShape(s.shape, s.layout);
  const means = Array.from({ length: channels }, () => s.center + s.spread * rng.normal());
  const stds = Array.from({ length: channels }, () => s.spread * (0.5 + rng.uniform()));
  const x = channelNormals(rng, s.shape, s.layout, means, stds);
  return {
    x,
    dy: normals(rng, x.length),
    gamma: s.affine ? normals(rng, channels, 1, 0.5) : undefined,
    beta: s.affine ? normals(rng, channels, 0, 0.5) : undefined,
    runningMean: s.running ? Float32Array.from(means, (m) => m + 0.1 * s.spread * rng.normal()) : undefined,
    runningVar: s.running ? Float32Array.from(stds, (v) => v * v * (0.5 + rng.uniform())) : undefined,
    initial: { dgamma: normals(rng, channels, 0, 10), dbeta: normals(rng, channels, 0, 10) },
  };
}

function paramsOf(s: DifferentialSpec, inputs: Inputs): ReferenceParams {
  const keras = s.convention === 'keras';
  const onnx = s.convention === 'onnx';
  return {
    shape: s.shape,
    layout: s.layout,
    gamma: inputs.gamma,
    beta: inputs.beta,
    eps: s.eps ?? (keras ? 1e-3 : 1e-5),
    momentum: s.momentum ?? (keras ? 0.99 : onnx ? 0.9 : 0.1),
    convention: s.convention,
    activation: s.activation,
    runningMean: inputs.runningMean,
    runningVar: inputs.runningVar,
  };
}

/** What a case produced: forward outputs, and for a backward its forward's y and statistics. */
interface Outputs {
  y: Float32Array;
  /** The stats buffer of a resident call (an inference checks all of it). */
  stats?: Float32Array;
  mean: Float32Array;
  variance: Float32Array;
  invStd: Float32Array;
  runningMean?: Float32Array;
  runningVar?: Float32Array;
  dx?: Float32Array;
  dgamma?: Float32Array;
  dbeta?: Float32Array;
}

const failed = (checks: OutputCheck[]) => checks.filter((c) => c.failure !== null).map((c) => c.failure!);

function checkCase(s: DifferentialSpec, inputs: Inputs, out: Outputs, bn: BatchNorm): string[] {
  const p = paramsOf(s, inputs);
  if (s.op === 'forward-train') return failed(trainChecks(inputs.x, p, out, s.api, gpuStatisticsTerms(channelView(s.shape, s.layout), bn.gpu!)));
  if (s.op === 'inference') return failed(inferenceChecks(inputs.x, p, out.y, s.api, undefined, out.stats));
  // Backward: the reference normalizes with the statistics the GPU forward produced and masks with
  // its y, as PyTorch's backward gets save_mean and save_invstd (see backward-case.ts).
  const ref = referenceBackward(inputs.x, inputs.dy, p, { mode: s.mode, stats: { mean: out.mean, invStd: out.invStd }, y: out.y });
  const terms = gpuBackwardTerms(channelView(s.shape, s.layout), bn.gpu!);
  const tol = backwardTolerances(inputs.x, inputs.dy, p, ref, s.mode, { terms });
  let { dgamma, dbeta } = ref as { dgamma: ArrayLike<number>; dbeta: ArrayLike<number> };
  let dgammaTol = tol.dgamma;
  let dbetaTol = tol.dbeta;
  if (s.api === 'resident' && s.accumulate) {
    // One more float32 addition onto the initial values.
    const { dgamma: g0, dbeta: b0 } = inputs.initial;
    dgamma = ref.dgamma.map((v, c) => g0[c] + v);
    dbeta = ref.dbeta.map((v, c) => b0[c] + v);
    dgammaTol = (c) => tol.dgamma(c) + EPS32 * (Math.abs(g0[c]) + Math.abs(ref.dgamma[c]));
    dbetaTol = (c) => tol.dbeta(c) + EPS32 * (Math.abs(b0[c]) + Math.abs(ref.dbeta[c]));
  }
  return [
    checkClose(out.dx!, ref.dx, tol.dx, `${s.api} dx`),
    checkClose(out.dgamma!, dgamma, dgammaTol, `${s.api} dgamma`),
    checkClose(out.dbeta!, dbeta, dbetaTol, `${s.api} dbeta`),
  ]
    .filter((e): e is Error => e !== undefined)
    .map((e) => e.message);
}

/** Records a case into `encoder` on poisoned (NaN) outputs; returns how to read its results. */
function encodeCase(bn: BatchNorm, encoder: GPUCommandEncoder, plan: CopyPlan, s: DifferentialSpec, inputs: Inputs, made: GPUBuffer[]): (bytes: ArrayBuffer) => Outputs {
  const kernels = bn.gpu!;
  const device = kernels.device;
  const { channels: C } = splitShape(s.shape, s.layout);
  const n = inputs.x.length;
  const buffer = (name: string, data: Float32Array) => {
    const b = storageBuffer(device, `diff.${name}`, data);
    made.push(b);
    return b;
  };
  const poison = (length: number) => new Float32Array(length).fill(NaN);
  const p = paramsOf(s, inputs);
  const b = {
    x: buffer('x', inputs.x),
    y: buffer('y', poison(n)),
    stats: buffer('stats', poison(5 * C)),
    gamma: inputs.gamma && buffer('gamma', inputs.gamma),
    beta: inputs.beta && buffer('beta', inputs.beta),
    runningMean: inputs.runningMean && buffer('runningMean', inputs.runningMean),
    runningVar: inputs.runningVar && buffer('runningVar', inputs.runningVar),
  };
  const common = { shape: s.shape, layout: s.layout, eps: p.eps, momentum: p.momentum, convention: s.convention, activation: s.activation, x: b.x, y: b.y, stats: b.stats, gamma: b.gamma, beta: b.beta };
  const train = s.op === 'forward-train' || (s.op === 'backward' && s.mode === 'train');
  if (train) kernels.encodeForwardTrain(encoder, { ...common, runningMean: s.op === 'forward-train' ? b.runningMean : undefined, runningVar: s.op === 'forward-train' ? b.runningVar : undefined });
  else kernels.encodeForwardInference(encoder, { ...common, runningMean: b.runningMean, runningVar: b.runningVar });
  const at = {
    y: plan.add(b.y, 0, n * 4),
    stats: plan.add(b.stats, 0, 5 * C * 4),
    runningMean: s.op === 'forward-train' && b.runningMean ? plan.add(b.runningMean, 0, C * 4) : undefined,
    runningVar: s.op === 'forward-train' && b.runningVar ? plan.add(b.runningVar, 0, C * 4) : undefined,
    dx: -1,
    dgamma: -1,
    dbeta: -1,
  };
  if (s.op === 'backward') {
    const dx = buffer('dx', poison(n));
    const dgamma = buffer('dgamma', s.accumulate ? inputs.initial.dgamma : poison(C));
    const dbeta = buffer('dbeta', s.accumulate ? inputs.initial.dbeta : poison(C));
    kernels.encodeBackward(encoder, { ...common, mode: s.mode, dy: buffer('dy', inputs.dy), dx, dgamma, dbeta, accumulate: s.accumulate });
    at.dx = plan.add(dx, 0, n * 4);
    at.dgamma = plan.add(dgamma, 0, C * 4);
    at.dbeta = plan.add(dbeta, 0, C * 4);
  }
  return (bytes) => {
    const stats = floatsAt(bytes, at.stats, 5 * C);
    return {
      y: floatsAt(bytes, at.y, n),
      stats,
      mean: stats.slice(0, C),
      variance: stats.slice(C, 2 * C),
      invStd: stats.slice(2 * C, 3 * C),
      runningMean: at.runningMean === undefined ? undefined : floatsAt(bytes, at.runningMean, C),
      runningVar: at.runningVar === undefined ? undefined : floatsAt(bytes, at.runningVar, C),
      dx: at.dx < 0 ? undefined : floatsAt(bytes, at.dx, n),
      dgamma: at.dgamma < 0 ? undefined : floatsAt(bytes, at.dgamma, C),
      dbeta: at.dbeta < 0 ? undefined : floatsAt(bytes, at.dbeta, C),
    };
  };
}

/** A case through the host-array API. */
async function hostCase(bn: BatchNorm, s: DifferentialSpec, inputs: Inputs): Promise<Outputs> {
  const p = paramsOf(s, inputs);
  const opts = { shape: s.shape, layout: s.layout, eps: p.eps, momentum: p.momentum, convention: s.convention, activation: s.activation, gamma: inputs.gamma, beta: inputs.beta };
  if (s.op === 'inference') {
    const y = await bn.forwardInference(inputs.x, { ...opts, runningMean: inputs.runningMean, runningVar: inputs.runningVar });
    return { y, mean: new Float32Array(0), variance: new Float32Array(0), invStd: new Float32Array(0) };
  }
  const running = s.op === 'forward-train' ? { runningMean: inputs.runningMean, runningVar: inputs.runningVar } : {};
  const forward = await bn.forwardTrain(inputs.x, { ...opts, ...running });
  if (s.op === 'forward-train') return forward;
  return { ...forward, ...(await bn.backward(inputs.dy, inputs.x, opts, forward)) };
}

let engine: Promise<BatchNorm> | undefined;
/** Engines with a binding cap, borrowing the main engine's device so all cases share one encoder. */
const capped = new Map<number, Promise<BatchNorm>>();

async function engineOf(s: DifferentialSpec): Promise<BatchNorm> {
  engine ??= createBatchNorm({ backend: 'webgpu' });
  const main = await engine;
  if (s.maxBindingBytes === undefined) return main;
  let bn = capped.get(s.maxBindingBytes);
  if (!bn) {
    bn = createBatchNorm({ backend: 'webgpu', device: main.gpu!.device, tuning: { maxBindingBytes: s.maxBindingBytes } });
    capped.set(s.maxBindingBytes, bn);
  }
  return bn;
}

export async function runDifferentialBatch(arg: { seed: number; first: number; count: number }): Promise<DifferentialReport> {
  const specs = Array.from({ length: arg.count }, (_, k) => drawCase(arg.seed, arg.first + k));
  const engines = await Promise.all(specs.map(engineOf));
  const device = engines[0].gpu!.device;
  const inputs = specs.map((s) => inputsOf(arg.seed, s));
  const outputs: (Outputs | undefined)[] = new Array(specs.length);

  const made: GPUBuffer[] = [];
  const plan = new CopyPlan();
  const encoder = device.createCommandEncoder({ label: 'test.differential' });
  const decoders = specs.map((s, k) => (s.api === 'resident' ? encodeCase(engines[k], encoder, plan, s, inputs[k], made) : undefined));
  const staging = device.createBuffer({ label: 'test.differential.staging', size: plan.byteLength, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  plan.encode(encoder, staging);
  device.queue.submit([encoder.finish()]);
  const hostRuns = specs.map(async (s, k) => {
    if (s.api === 'host') outputs[k] = await hostCase(engines[k], s, inputs[k]);
  });
  await staging.mapAsync(GPUMapMode.READ);
  const bytes = staging.getMappedRange().slice(0);
  staging.destroy();
  for (const buffer of made) buffer.destroy();
  decoders.forEach((decode, k) => {
    if (decode) outputs[k] = decode(bytes);
  });
  await Promise.all(hostRuns);
  for (const bn of new Set(engines)) await bn.gpu!.checkErrors();

  const counts: Record<string, number> = {};
  const failures: DifferentialReport['failures'] = [];
  specs.forEach((s, k) => {
    const key = `${s.op}${s.op === 'backward' ? ` ${s.mode}` : ''} (${s.api})`;
    counts[key] = (counts[key] ?? 0) + 1;
    if (s.maxBindingBytes !== undefined) counts['in slabs'] = (counts['in slabs'] ?? 0) + 1;
    const problems = checkCase(s, inputs[k], outputs[k]!, engines[k]);
    if (problems.length > 0) failures.push({ spec: s, failures: problems });
  });
  return { cases: specs.length, counts, failures };
}
