/**
 * Harness cases of the TF.js layer-norm op and layer (src/tfjs/layer-norm-*.ts), loaded on demand
 * by cases.ts as the other TF.js cases are. Each sets the TF.js backend it needs.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import {
  LAYER_NORM_GRAD_KERNEL,
  LAYER_NORM_KERNEL,
  LAYER_NORM_RESIDUAL_KERNEL,
  layerNorm,
  layerNormalization,
  registerTfjsKernels,
  tfjsEngineFor,
  WebGpuLayerNormalization,
  withWebGpuBatchNorm,
  withWebGpuLayerNorm,
  type LayerNormOpOptions,
} from '../../../src/tfjs/index';
import type { NormActivation, NormView } from '../../../src/norms/norm-types';
import { check, type OutputCheck } from '../../support/forward-checks';
import { caseSeed, createRng, normals } from '../../support/random';
import { referenceNormBackward, referenceNormForward, type ReferenceNormParams } from '../../support/norm-reference';
import { backwardBounds, forwardBounds } from '../../support/norm-cpu-tolerance';
import { gpuBackwardBounds, gpuForwardBounds, type NormBoundInputs } from './norm-gpu-bounds';
import { countDispatches } from './dispatch-counter';

export type LayerNormBackend = 'webgpu' | 'cpu';

async function useBackend(name: LayerNormBackend): Promise<void> {
  if (tf.getBackend() !== name) {
    if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') failed`);
  }
  await tf.ready();
}

const f32 = async (t: tf.Tensor) => Float32Array.from(await t.data());

async function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  if (a.size !== b.size) return Infinity;
  const [x, y] = await Promise.all([a.data(), b.data()]);
  let worst = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i] - y[i]);
    worst = Number.isNaN(d) ? (Number.isNaN(x[i]) && Number.isNaN(y[i]) ? worst : Infinity) : Math.max(worst, d);
  }
  return worst;
}

/** max |a − b| / max |b|: the error relative to the size of the reference gradient. */
async function relDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  let scale = 0;
  for (const v of await f32(b)) scale = Math.max(scale, Math.abs(v));
  return (await maxAbsDiff(a, b)) / Math.max(scale, 1e-30);
}


/**
 * Wraps our three kernels on the current backend to count their calls and the GPU calls made inside
 * them; `restore` puts the originals back.
 */
function instrumentKernels(device?: GPUDevice) {
  registerTfjsKernels();
  const backendName = tf.getBackend();
  const calls = { kernels: 0, createBuffer: 0, writeBuffer: 0, submit: 0, mapAsync: 0, createBindGroup: 0, createComputePipeline: 0 };
  let inside = false;
  const originals = device && {
    createBuffer: device.createBuffer,
    createBindGroup: device.createBindGroup,
    createComputePipeline: device.createComputePipeline,
    writeBuffer: device.queue.writeBuffer,
    submit: device.queue.submit,
    mapAsync: GPUBuffer.prototype.mapAsync,
  };
  if (device && originals) {
    const counted = <F extends (...args: never[]) => unknown>(key: keyof typeof calls, f: F) =>
      function (this: unknown, ...args: Parameters<F>) {
        if (inside) calls[key]++;
        return f.apply(this, args);
      } as unknown as F;
    device.createBuffer = counted('createBuffer', originals.createBuffer);
    device.createBindGroup = counted('createBindGroup', originals.createBindGroup);
    device.createComputePipeline = counted('createComputePipeline', originals.createComputePipeline);
    device.queue.writeBuffer = counted('writeBuffer', originals.writeBuffer);
    device.queue.submit = counted('submit', originals.submit);
    GPUBuffer.prototype.mapAsync = counted('mapAsync', originals.mapAsync);
  }
  const wrapped = [LAYER_NORM_KERNEL, LAYER_NORM_RESIDUAL_KERNEL, LAYER_NORM_GRAD_KERNEL].map((name) => tf.getKernel(name, backendName)!);
  for (const config of wrapped) {
    tf.unregisterKernel(config.kernelName, backendName);
    tf.registerKernel({
      ...config,
      kernelFunc: (params) => {
        calls.kernels++;
        inside = true;
        try {
          return config.kernelFunc(params);
        } finally {
          inside = false;
        }
      },
    });
  }
  return {
    calls,
    restore() {
      for (const config of wrapped) {
        tf.unregisterKernel(config.kernelName, backendName);
        tf.registerKernel(config);
      }
      if (device && originals) {
        device.createBuffer = originals.createBuffer;
        device.createBindGroup = originals.createBindGroup;
        device.createComputePipeline = originals.createComputePipeline;
        device.queue.writeBuffer = originals.writeBuffer;
        device.queue.submit = originals.submit;
        GPUBuffer.prototype.mapAsync = originals.mapAsync;
      }
    },
  };
}

export interface LayerNormOpCase {
  seed: number;
  backend: LayerNormBackend;
  name: string;
  shape: number[];
  /** Trailing axes normalized, given to the op as Keras's axis list (1: axis -1 as a number). */
  normalized: number;
  activation: NormActivation;
  residual: boolean;
  /** γ and β given (default), or null. */
  affine?: boolean;
  /** x drawn around this (default 0) ± std (default 1). */
  mean?: number;
  std?: number;
  epsilon?: number;
}

export interface LayerNormOpReport {
  backend: string;
  /** Calls of our kernels (forward, then the gradient's forward and backward). */
  kernelCalls: number;
  checks: OutputCheck[];
  /** The same formulas with stock TF.js ops: max |ours − stock| (y), max relative (gradients). */
  stock: Record<string, number>;
  leakedTensors: number;
}

/** The stock formulas (tf.moments, element-wise ops) the op is compared with, over the trailing `k` axes. */
function stockLayerNorm(x: tf.Tensor, gamma: tf.Tensor | null, beta: tf.Tensor | null, z: tf.Tensor | null, k: number, eps: number, activation: NormActivation): tf.Tensor {
  const axes = x.shape.map((_, i) => i).slice(x.rank - k);
  const { mean, variance } = tf.moments(x, axes, true);
  const paramShape = x.shape.map((d, i) => (i >= x.rank - k ? d : 1));
  let a = tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps)));
  if (gamma) a = tf.mul(a, tf.reshape(gamma, paramShape));
  if (beta) a = tf.add(a, tf.reshape(beta, paramShape));
  if (z) a = tf.add(a, z);
  switch (activation) {
    case 'none':
      return a;
    case 'relu':
      return tf.relu(a);
    case 'gelu':
      return tf.mul(tf.mul(a, 0.5), tf.add(tf.erf(tf.div(a, Math.SQRT2)), 1));
    case 'gelu-tanh':
      return tf.mul(tf.mul(a, 0.5), tf.add(tf.tanh(tf.mul(tf.add(a, tf.mul(tf.mul(tf.mul(a, a), a), 0.044715)), Math.sqrt(2 / Math.PI))), 1));
    case 'silu':
      return tf.mul(a, tf.sigmoid(a));
  }
}

/**
 * The op on one shape: x made by a TF.js op queued just before ours and y consumed by one queued
 * just after (all in TF.js's unsubmitted encoder on webgpu); forward and gradients (tf.grads of
 * Σ y·w, so dy = w exactly) against the float64 reference with the bounds of the path that ran (the
 * GPU kernels' or the CPU path's), the backward's reference taking the statistics the forward saved.
 */
export async function runLayerNormOp(arg: LayerNormOpCase): Promise<LayerNormOpReport> {
  await useBackend(arg.backend);
  const size = arg.shape.reduce((a, b) => a * b, 1);
  const D = arg.shape.slice(arg.shape.length - arg.normalized).reduce((a, b) => a * b, 1);
  // Without γ and β the op makes ones and zeros of length D once per backend, kept for later calls.
  if (arg.affine === false) tf.dispose(tf.tidy(() => layerNorm(tf.ones([1, D])).y));
  const before = tf.memory().numTensors;
  const rng = createRng(caseSeed(arg.seed, arg.name));
  const rows = size / D;
  const affine = arg.affine ?? true;
  const x = normals(rng, size, arg.mean ?? 0, arg.std ?? 1);
  const gamma = affine ? normals(rng, D, 1, 0.5) : undefined;
  const beta = affine ? normals(rng, D, 0, 0.5) : undefined;
  const z = arg.residual ? normals(rng, size, 0, 1) : undefined;
  const w = normals(rng, size, 0, 1);
  const eps = arg.epsilon ?? 1e-3;
  const axis = arg.normalized === 1 ? -1 : Array.from({ length: arg.normalized }, (_, k) => arg.shape.length - arg.normalized + k);
  const paramShape = arg.shape.slice(arg.shape.length - arg.normalized);

  const xT = tf.tensor(x, arg.shape);
  const gT = gamma ? tf.tensor(gamma, paramShape) : null;
  const bT = beta ? tf.tensor(beta, paramShape) : null;
  const zT = z ? tf.tensor(z, arg.shape) : null;
  const wT = tf.tensor(w, arg.shape);
  const options = (zs: tf.Tensor | null): LayerNormOpOptions => ({ axis, epsilon: eps, activation: arg.activation, ...(zs ? { residual: zs } : {}) });

  const backend = tf.backend() as unknown as { device?: GPUDevice };
  const probe = instrumentKernels();
  let kept: tf.Tensor[] = [];
  let forward: { y: tf.Tensor; mean: tf.Tensor; invStd: tf.Tensor };
  let grads: tf.Tensor[];
  let stockY: tf.Tensor;
  let stockGrads: tf.Tensor[];
  try {
    forward = tf.tidy(() => {
      const xq = tf.mul(xT, 1); // queued by TF.js right before our op (exact)
      const out = layerNorm(xq, gT, bT, options(zT));
      return { y: tf.mul(out.y, 1), mean: out.mean, invStd: out.invStd }; // y consumed right after
    });
    // The gradient's own forward: its statistics and y are what the backward used.
    const loss = (xs: tf.Tensor, gs: tf.Tensor | null, bs: tf.Tensor | null, zs: tf.Tensor | null) => {
      const out = layerNorm(xs, gs, bs, options(zs));
      kept = [tf.keep(out.y), tf.keep(out.mean), tf.keep(out.invStd)];
      return tf.sum(tf.mul(out.y, wT)) as tf.Scalar;
    };
    const inputs = [xT, gT, bT, zT].filter((t): t is tf.Tensor => t !== null);
    const pick = (list: tf.Tensor[]) => {
      let k = 0;
      return [xT, gT, bT, zT].map((t) => (t === null ? null : list[k++]));
    };
    grads = tf.grads((...args: tf.Tensor[]) => {
      const [xs, gs, bs, zs] = pick(args);
      return loss(xs!, gs, bs, zs);
    })(inputs);
    stockY = tf.tidy(() => stockLayerNorm(xT, gT, bT, zT, arg.normalized, eps, arg.activation));
    stockGrads = tf.grads((...args: tf.Tensor[]) => {
      const [xs, gs, bs, zs] = pick(args);
      return tf.sum(tf.mul(stockLayerNorm(xs!, gs, bs, zs, arg.normalized, eps, arg.activation), wT)) as tf.Scalar;
    })(inputs);
  } finally {
    probe.restore();
  }

  const view: NormView = { size, outer: rows, params: D, inner: 1, groups: 1, rows, rowLength: D };
  const params: ReferenceNormParams = { kind: 'layer', view: { outer: rows, params: D, inner: 1, groups: 1 }, gamma, beta, eps, activation: arg.activation, residual: z };
  const ref = referenceNormForward(x, params);
  const bounds: NormBoundInputs = { kind: 'layer', view, x, gamma, beta, residual: z, eps, activation: arg.activation };
  const engine = arg.backend === 'webgpu' ? tfjsEngineFor(backend.device!) : undefined;
  if (arg.backend === 'webgpu' && !engine) throw new Error('no engine was built on TF.js’s device: our kernels did not run');
  const fb = engine ? gpuForwardBounds(bounds, ref, engine) : forwardBounds(x, params, ref);
  const checks: OutputCheck[] = [];
  const path = arg.backend;
  checks.push(check('y', path, await f32(forward.y), ref.y, fb.y));
  checks.push(check('mean', path, await f32(forward.mean), ref.mean, fb.mean));
  checks.push(check('invStd', path, await f32(forward.invStd), ref.invStd, fb.invStd));

  const [savedY, savedMean, savedInvStd] = await Promise.all(kept.map(f32));
  const refBack = referenceNormBackward(w, x, params, { mean: savedMean, invStd: savedInvStd }, savedY);
  let bb: { dx: (i: number) => number; dgamma: (i: number) => number; dbeta: (i: number) => number; dz: (i: number) => number };
  if (engine) bb = gpuBackwardBounds(bounds, w, { mean: savedMean, invStd: savedInvStd }, refBack, engine);
  else {
    const xhat = Float64Array.from(x, (v, i) => (v - savedMean[Math.floor(i / D)]) * savedInvStd[Math.floor(i / D)]);
    bb = backwardBounds(w, params, refBack, xhat, savedInvStd);
  }
  const [dx, dgamma, dbeta, dz] = [grads[0], gT ? grads[1] : null, bT ? grads[2] : null, zT ? grads[grads.length - 1] : null];
  checks.push(check('dx', path, await f32(dx), refBack.dx, bb.dx));
  if (dgamma) checks.push(check('dgamma', path, await f32(dgamma), refBack.dgamma, bb.dgamma));
  if (dbeta) checks.push(check('dbeta', path, await f32(dbeta), refBack.dbeta, bb.dbeta));
  if (dz) checks.push(check('dz', path, await f32(dz), refBack.dz, bb.dz));

  const stock: Record<string, number> = { y: await maxAbsDiff(forward.y, stockY) };
  const names = ['dx', ...(gT ? ['dgamma'] : []), ...(bT ? ['dbeta'] : []), ...(zT ? ['dz'] : [])];
  for (let k = 0; k < names.length; k++) stock[names[k]] = await relDiff(grads[k], stockGrads[k]);
  tf.dispose([xT, gT, bT, zT, wT, forward.y, forward.mean, forward.invStd, ...kept, ...grads, stockY, ...stockGrads].filter((t): t is tf.Tensor => t !== null));
  return { backend: tf.getBackend(), kernelCalls: probe.calls.kernels, checks, stock, leakedTensors: tf.memory().numTensors - before };
}

export interface LayerNormStockPathReport {
  backend: string;
  /** Our kernels' calls for the stock path's run (0) and for the transposed run (3). */
  kernelCalls: { stock: number; kernels: number };
  /** Stock path vs kernels: y max abs, gradients max relative. */
  diff: Record<string, number>;
  leakedTensors: number;
}

/**
 * The op's stock path (axes that are not the trailing ones: here axis 1 of a rank-3 x) against our
 * kernels on the same data transposed so that axis 1 comes last: forward and the gradients of x, γ, β
 * and z, for one activation with a residual.
 */
export async function runLayerNormStockPath(arg: { seed: number; backend: LayerNormBackend; activation: NormActivation }): Promise<LayerNormStockPathReport> {
  await useBackend(arg.backend);
  const before = tf.memory().numTensors;
  const rng = createRng(caseSeed(arg.seed, `stock path ${arg.activation}`));
  const shape = [3, 7, 5];
  const size = 3 * 7 * 5;
  const x = tf.tensor(normals(rng, size, 2, 1.5), shape);
  const z = tf.tensor(normals(rng, size, 0, 1), shape);
  const w = tf.tensor(normals(rng, size, 0, 1), shape);
  const gamma = tf.tensor(normals(rng, 7, 1, 0.5), [7]);
  const beta = tf.tensor(normals(rng, 7, 0, 0.5), [7]);
  const perm = [0, 2, 1];
  const stock = (xs: tf.Tensor, g: tf.Tensor, b: tf.Tensor, zs: tf.Tensor) => layerNorm(xs, g, b, { axis: 1, activation: arg.activation, residual: zs }).y;
  const kernels = (xs: tf.Tensor, g: tf.Tensor, b: tf.Tensor, zs: tf.Tensor) =>
    tf.transpose(layerNorm(tf.transpose(xs, perm), g, b, { axis: -1, activation: arg.activation, residual: tf.transpose(zs, perm) }).y, perm);
  const run = (f: typeof stock) => {
    const probe = instrumentKernels();
    try {
      const y = tf.tidy(() => f(x, gamma, beta, z));
      const grads = tf.grads((xs: tf.Tensor, g: tf.Tensor, b: tf.Tensor, zs: tf.Tensor) => tf.sum(tf.mul(f(xs, g, b, zs), w)) as tf.Scalar)([x, gamma, beta, z]);
      return { y, grads, calls: probe.calls.kernels };
    } finally {
      probe.restore();
    }
  };
  const a = run(stock);
  const b = run(kernels);
  const diff: Record<string, number> = { y: await maxAbsDiff(a.y, b.y) };
  const names = ['dx', 'dgamma', 'dbeta', 'dz'];
  for (let k = 0; k < 4; k++) diff[names[k]] = await relDiff(a.grads[k], b.grads[k]);
  tf.dispose([x, z, w, gamma, beta, a.y, b.y, ...a.grads, ...b.grads]);
  return { backend: tf.getBackend(), kernelCalls: { stock: a.calls, kernels: b.calls }, diff, leakedTensors: tf.memory().numTensors - before };
}

/**
 * A loss that reads only the statistics (mean, invStd) of the kernels' forward: y is off the loss's
 * path, and gradients flow from y only, so x's gradient is zeros.
 */
export async function runLayerNormStatisticsGradient(arg: { backend: LayerNormBackend }): Promise<{ backend: string; kernelCalls: number; shape: number[]; values: number[] }> {
  await useBackend(arg.backend);
  const x = tf.tensor2d(Float32Array.from({ length: 24 }, (_, i) => Math.sin(i) * 3 + 1), [4, 6]);
  const probe = instrumentKernels();
  let dx: tf.Tensor;
  try {
    dx = tf.grads((xs: tf.Tensor) => {
      const out = layerNorm(xs, null, null);
      return tf.add(tf.sum(out.mean), tf.sum(out.invStd)) as tf.Scalar;
    })([x])[0];
  } finally {
    probe.restore();
  }
  const report = { backend: tf.getBackend(), kernelCalls: probe.calls.kernels, shape: dx.shape, values: Array.from(await dx.data()) };
  tf.dispose([x, dx]);
  return report;
}

export interface LayerNormLayerReport {
  backend: string;
  kernelCalls: number;
  /** Our layer vs the stock one with the same weights: y (max abs), gradients (max relative). */
  stock: Record<string, number>;
  /** Our layer vs the op on the same inputs: y and gradients, max abs (0: the same kernels ran). */
  op: Record<string, number>;
  names: { ours: string[]; stock: string[] };
  configMatches: boolean;
  /** What TF.js threw differentiating its own layer, if it did (then `stock` holds y only). */
  stockGradientError?: string;
  leakedTensors: number;
}

/**
 * tf.layers.layerNormalization vs ours with `config`, the same weights (random γ, β copied with
 * setWeights): forward, tf.grads for x and tf.variableGrads for γ and β of Σ y·w.
 */
export async function runLayerNormLayer(arg: { seed: number; backend: LayerNormBackend; name: string; shape: number[]; config: Record<string, unknown>; mean?: number }): Promise<LayerNormLayerReport> {
  await useBackend(arg.backend);
  const rng = createRng(caseSeed(arg.seed, arg.name));
  const size = arg.shape.reduce((a, b) => a * b, 1);
  const xT = tf.tensor(normals(rng, size, arg.mean ?? 0, 1), arg.shape);
  const wT = tf.tensor(normals(rng, size, 0, 1), arg.shape);
  const stockLayer = tf.layers.layerNormalization(arg.config);
  const ours = layerNormalization(arg.config);
  tf.dispose([stockLayer.apply(xT) as tf.Tensor, ours.apply(xT) as tf.Tensor]); // builds both
  const weights = stockLayer.weights.map((v) => tf.tensor(normals(rng, v.shape.reduce((a, b) => a! * b!, 1)!, v.name.includes('gamma') ? 1 : 0, 0.5), v.shape as number[]));
  stockLayer.setWeights(weights);
  ours.setWeights(weights);

  const probe = instrumentKernels();
  const results = (layer: tf.layers.Layer | 'op') => {
    const apply = (x: tf.Tensor) => {
      if (layer !== 'op') return layer.apply(x) as tf.Tensor;
      const [gamma, beta] = [ours.weights.find((v) => v.name.includes('gamma')), ours.weights.find((v) => v.name.includes('beta'))];
      return layerNorm(x, gamma?.read() ?? null, beta?.read() ?? null, { axis: (ours as unknown as { axis: number[] }).axis, epsilon: (ours as unknown as { epsilon: number }).epsilon }).y;
    };
    const target = layer === 'op' ? ours : layer;
    const y = tf.tidy(() => apply(xT));
    const dx = tf.grads((x: tf.Tensor) => tf.sum(tf.mul(apply(x), wT)) as tf.Scalar)([xT])[0];
    const variables = target.trainableWeights.map((v) => (v as unknown as { val: tf.Variable }).val);
    if (variables.length === 0) return { y, dx, params: [] };
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(apply(xT), wT)) as tf.Scalar, variables);
    value.dispose();
    return { y, dx, params: Object.values(grads) };
  };
  let stockOut: ReturnType<typeof results> | undefined;
  let stockGradientError: string | undefined;
  let ourOut: ReturnType<typeof results>;
  let opOut: ReturnType<typeof results>;
  const stockY = tf.tidy(() => stockLayer.apply(xT) as tf.Tensor);
  let beforeOurs = 0;
  let leakedTensors = 0;
  try {
    try {
      stockOut = results(stockLayer);
    } catch (error) {
      stockGradientError = String(error);
    }
    beforeOurs = tf.memory().numTensors;
    ourOut = results(ours);
    opOut = results('op');
    // What ours and the op left beyond their own results (TF.js's failing gradient above may leak).
    leakedTensors = tf.memory().numTensors - beforeOurs - [ourOut, opOut].reduce((n, o) => n + 2 + o.params.length, 0);
  } finally {
    probe.restore();
  }
  const stock: Record<string, number> = { y: await maxAbsDiff(ourOut.y, stockY) };
  if (stockOut) stock.dx = await relDiff(ourOut.dx, stockOut.dx);
  const op: Record<string, number> = { y: await maxAbsDiff(ourOut.y, opOut.y), dx: await maxAbsDiff(ourOut.dx, opOut.dx) };
  const paramNames = ours.trainableWeights.map((v) => v.originalName.split('/').pop()!);
  for (let k = 0; k < paramNames.length; k++) {
    if (stockOut) stock[`d${paramNames[k]}`] = await relDiff(ourOut.params[k], stockOut.params[k]);
    op[`d${paramNames[k]}`] = await maxAbsDiff(ourOut.params[k], opOut.params[k]);
  }
  const strip = (config: tf.serialization.ConfigDict) => JSON.stringify({ ...config, name: undefined });
  const report: LayerNormLayerReport = {
    backend: tf.getBackend(),
    kernelCalls: probe.calls.kernels,
    stock,
    op,
    names: { ours: ours.weights.map((v) => v.originalName.split('/').pop()!), stock: stockLayer.weights.map((v) => v.originalName.split('/').pop()!) },
    configMatches: strip(ours.getConfig()) === strip(stockLayer.getConfig()),
    stockGradientError,
    leakedTensors,
  };
  tf.dispose([xT, wT, stockY, ...weights, ...[stockOut, ourOut, opOut].flatMap((o) => (o ? [o.y, o.dx, ...o.params] : []))]);
  stockLayer.dispose();
  ours.dispose();
  return report;
}

/** A small model around a layer-norm layer: Dense → LayerNorm → Dense(softmax). */
function smallModel(useOurs: boolean, seed: number, units: number): tf.Sequential {
  const init = (k: number) => tf.initializers.glorotUniform({ seed: seed + k });
  return tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [10], units, activation: 'relu', kernelInitializer: init(1) }),
      useOurs ? layerNormalization({ epsilon: 1e-3 }) : tf.layers.layerNormalization({ epsilon: 1e-3 }),
      tf.layers.dense({ units: 4, activation: 'softmax', kernelInitializer: init(2) }),
    ],
  });
}

export interface LayerNormFitReport {
  backend: string;
  kernelCalls: number;
  lossesOurs: number[];
  lossesStock: number[];
  /** Per weight after training: max |ours − stock| / max |stock|. */
  weightsRel: number[];
}

/** model.fit of the small model with ours and with the stock layer, the same initial weights and batches. */
export async function runLayerNormFit(arg: { seed: number; backend: LayerNormBackend }): Promise<LayerNormFitReport> {
  await useBackend(arg.backend);
  const rng = createRng(caseSeed(arg.seed, 'fit'));
  const n = 96;
  const x = tf.tensor2d(normals(rng, n * 10, 0, 1), [n, 10]);
  const labels = tf.oneHot(tf.tensor1d(Array.from({ length: n }, (_, i) => i % 4), 'int32'), 4).toFloat();
  const stock = smallModel(false, arg.seed, 24);
  const ours = smallModel(true, arg.seed, 24);
  ours.setWeights(stock.getWeights());
  for (const model of [stock, ours]) model.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy' });
  const probe = instrumentKernels();
  let lossesOurs: number[];
  let lossesStock: number[];
  try {
    lossesStock = (await stock.fit(x, labels, { batchSize: 16, epochs: 3, shuffle: false, verbose: 0 })).history.loss as number[];
    lossesOurs = (await ours.fit(x, labels, { batchSize: 16, epochs: 3, shuffle: false, verbose: 0 })).history.loss as number[];
  } finally {
    probe.restore();
  }
  const weightsRel: number[] = [];
  const [ws, wo] = [stock.getWeights(), ours.getWeights()];
  for (let k = 0; k < ws.length; k++) weightsRel.push(await relDiff(wo[k], ws[k]));
  tf.dispose([x, labels]);
  stock.dispose();
  ours.dispose();
  return { backend: tf.getBackend(), kernelCalls: probe.calls.kernels, lossesOurs, lossesStock, weightsRel };
}

export interface LayerNormSteadyReport {
  steps: number;
  kernelCalls: number;
  /** Inside our kernels during the measured steps. */
  createBuffer: number;
  writeBuffer: number;
  submit: number;
  mapAsync: number;
  createBindGroup: number;
  createComputePipeline: number;
  engineBuffersBefore: number;
  engineBuffersAfter: number;
  tensorsBefore: number;
  tensorsAfter: number;
  tfjsBytesBefore: number;
  tfjsBytesAfter: number;
  /** One training step of the whole model (dense layers, loss, Adam included), ours vs the stock layers. */
  perStep: { ours: { dispatches: number; submits: number }; stock: { dispatches: number; submits: number } };
  /** Median time of a training step (trainOnBatch, awaited), for information. */
  stepMs: { ours: number; stock: number };
}

/** Dense → layer norm → Dense → layer norm → Dense(softmax), with our layers or the stock ones. */
function twoNormModel(useOurs: boolean): tf.Sequential {
  const norm = useOurs ? layerNormalization : tf.layers.layerNormalization;
  const init = (k: number) => tf.initializers.glorotUniform({ seed: k });
  return tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [10], units: 36, activation: 'relu', kernelInitializer: init(1) }),
      norm({}),
      tf.layers.dense({ units: 20, activation: 'relu', kernelInitializer: init(2) }),
      norm({ epsilon: 1e-5 }),
      tf.layers.dense({ units: 4, activation: 'softmax', kernelInitializer: init(3) }),
    ],
  });
}

/** Compute dispatches and queue submits of one training step (trainOnBatch, awaited), after a warm-up. */
async function dispatchesPerStep(device: GPUDevice, model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor): Promise<{ dispatches: number; submits: number }> {
  for (let i = 0; i < 2; i++) await model.trainOnBatch(x, y);
  const submit = device.queue.submit;
  let submits = 0;
  device.queue.submit = function (buffers) {
    submits++;
    return submit.call(this, buffers);
  };
  try {
    const { dispatches } = await countDispatches(() => model.trainOnBatch(x, y));
    return { dispatches, submits };
  } finally {
    device.queue.submit = submit;
  }
}

/**
 * Training steps (trainOnBatch) of a model with two of our layers, after a warm-up: GPU objects made
 * inside our kernels; and the compute dispatches and submits of one step, ours vs the stock layers.
 */
export async function runLayerNormSteadyState(arg: { seed: number; warmup: number; steps: number; timedRounds: number }): Promise<LayerNormSteadyReport> {
  await useBackend('webgpu');
  const backend = tf.backend() as unknown as { device: GPUDevice; bufferManager: { numBytesAllocated: number } };
  const rng = createRng(caseSeed(arg.seed, 'steady'));
  const compile = (model: tf.LayersModel) => model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
  const model = twoNormModel(true);
  compile(model);
  const x = tf.tensor2d(normals(rng, 32 * 10, 0, 1), [32, 10]);
  const y = tf.oneHot(tf.tensor1d(Array.from({ length: 32 }, (_, i) => i % 4), 'int32'), 4).toFloat();
  const device = backend.device;
  const stockModel = twoNormModel(false);
  compile(stockModel);
  const perStep = { ours: await dispatchesPerStep(device, model, x, y), stock: await dispatchesPerStep(device, stockModel, x, y) };
  // For information only (timings are never asserted): median step time, alternating rounds.
  const times: { ours: number[]; stock: number[] } = { ours: [], stock: [] };
  for (let round = 0; round < arg.timedRounds; round++) {
    for (const [which, m] of [['stock', stockModel], ['ours', model]] as const) {
      for (let i = 0; i < 5; i++) {
        const start = performance.now();
        await m.trainOnBatch(x, y);
        times[which].push(performance.now() - start);
      }
    }
  }
  const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)] ?? NaN;
  const stepMs = { ours: median(times.ours), stock: median(times.stock) };
  stockModel.dispose();
  for (let i = 0; i < arg.warmup; i++) await model.trainOnBatch(x, y);
  const engineBefore = tfjsEngineFor(device)?.liveBuffers ?? -1;
  const bytesBefore = backend.bufferManager.numBytesAllocated;
  const tensorsBefore = tf.memory().numTensors;
  const probe = instrumentKernels(device);
  try {
    for (let i = 0; i < arg.steps; i++) await model.trainOnBatch(x, y);
    await device.queue.onSubmittedWorkDone();
  } finally {
    probe.restore();
  }
  const report: LayerNormSteadyReport = {
    steps: arg.steps,
    kernelCalls: probe.calls.kernels,
    createBuffer: probe.calls.createBuffer,
    writeBuffer: probe.calls.writeBuffer,
    submit: probe.calls.submit,
    mapAsync: probe.calls.mapAsync,
    createBindGroup: probe.calls.createBindGroup,
    createComputePipeline: probe.calls.createComputePipeline,
    engineBuffersBefore: engineBefore,
    engineBuffersAfter: tfjsEngineFor(device)?.liveBuffers ?? -1,
    tensorsBefore,
    tensorsAfter: tf.memory().numTensors,
    tfjsBytesBefore: bytesBefore,
    tfjsBytesAfter: backend.bufferManager.numBytesAllocated,
    perStep,
    stepMs,
  };
  tf.dispose([x, y]);
  model.dispose();
  return report;
}

export interface LayerNormSerializationReport {
  roundTripClass: string[];
  roundTripWeightsDiff: number;
  roundTripPredictDiff: number;
  fromStockClass: string[];
  fromStockNamesKept: boolean;
  fromStockPredictDiff: number;
  /** Per config: ours' getConfig() equals the stock layer's (names aside). */
  configsMatch: boolean[];
  /** Names of layers built without one: stock, ours, stock (one counter). */
  defaultNames: string[];
  /** A stock model with a batch norm and a layer norm, loaded through withWebGpuLayerNorm(withWebGpuBatchNorm(…)). */
  bothClasses: string[];
}

async function saveToMemory(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    saved = artifacts;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  return saved!;
}

export async function runLayerNormSerialization(arg: { seed: number }): Promise<LayerNormSerializationReport> {
  await useBackend('webgpu');
  const rng = createRng(caseSeed(arg.seed, 'serialization'));
  const x = tf.tensor2d(normals(rng, 16 * 10, 0, 1), [16, 10]);
  const labels = tf.oneHot(tf.tensor1d(Array.from({ length: 16 }, (_, i) => i % 4), 'int32'), 4).toFloat();
  const diff = async (a: tf.Tensor, b: tf.Tensor) => {
    const d = await maxAbsDiff(a, b);
    tf.dispose([a, b]);
    return d;
  };
  const train = async (model: tf.LayersModel) => {
    model.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy' });
    await model.trainOnBatch(x, labels); // γ and β away from their initial values
  };
  const layerClasses = (model: tf.LayersModel) => model.layers.filter((l) => /Normalization/.test(l.getClassName())).map((l) => l.getClassName());

  const ours = smallModel(true, arg.seed, 12);
  await train(ours);
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(await saveToMemory(ours)));
  const [wo, wl] = [ours.getWeights(), loaded.getWeights()];
  let roundTripWeightsDiff = wo.length === wl.length ? 0 : Infinity;
  for (let k = 0; k < Math.min(wo.length, wl.length); k++) roundTripWeightsDiff = Math.max(roundTripWeightsDiff, await maxAbsDiff(wo[k], wl[k]));

  const stock = smallModel(false, arg.seed, 12);
  await train(stock);
  const fromStock = await tf.loadLayersModel(withWebGpuLayerNorm(tf.io.fromMemory(await saveToMemory(stock))));

  // A model with both norms, loaded through both wrappers.
  const both = tf.sequential({
    layers: [tf.layers.dense({ inputShape: [10], units: 6 }), tf.layers.batchNormalization(), tf.layers.layerNormalization(), tf.layers.dense({ units: 2 })],
  });
  const bothLoaded = await tf.loadLayersModel(withWebGpuLayerNorm(withWebGpuBatchNorm(tf.io.fromMemory(await saveToMemory(both)))));
  const bothClasses = layerClasses(bothLoaded);
  both.dispose();
  bothLoaded.dispose();

  const configs: Record<string, unknown>[] = [
    {},
    { axis: [1, 2], epsilon: 1e-5, center: false },
    { axis: -2, scale: false, betaInitializer: 'ones', gammaInitializer: 'randomNormal' },
    { gammaRegularizer: 'l1l2', betaRegularizer: 'l1l2' },
  ];
  const configsMatch = configs.map((config) => {
    const s = tf.layers.layerNormalization({ ...config, name: 'same' });
    const o = layerNormalization({ ...config, name: 'same' });
    // Built, so that axis is resolved the same way on both.
    s.build([2, 3, 5]);
    o.build([2, 3, 5]);
    return JSON.stringify(s.getConfig()) === JSON.stringify(o.getConfig());
  });
  const defaultNames = [tf.layers.layerNormalization().name, layerNormalization().name, tf.layers.layerNormalization().name];

  const report: LayerNormSerializationReport = {
    roundTripClass: layerClasses(loaded),
    roundTripWeightsDiff,
    roundTripPredictDiff: await diff(ours.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor),
    fromStockClass: fromStock.layers.filter((l) => l instanceof WebGpuLayerNormalization).map((l) => l.getClassName()),
    fromStockNamesKept:
      fromStock.layers.map((l) => l.name).join() === stock.layers.map((l) => l.name).join() &&
      fromStock.weights.map((v) => v.name.replace(/_\d+$/, '')).join() === stock.weights.map((v) => v.name).join(),
    fromStockPredictDiff: await diff(stock.predict(x) as tf.Tensor, fromStock.predict(x) as tf.Tensor),
    configsMatch,
    defaultNames,
    bothClasses,
  };
  tf.dispose([x, labels]); // wo and wl are the models' own variables, disposed with them
  for (const m of [ours, loaded, stock, fromStock]) m.dispose();
  return report;
}

export interface LayerNormBadInputsReport {
  /** Per bad call: its name, the error's class name and code ('none' when nothing was thrown). */
  results: { name: string; error: string; code: string }[];
  /** Calls of our kernels during the bad calls (0: each was refused before any work). */
  kernelCalls: number;
}

export async function runLayerNormBadInputs(arg: { backend: LayerNormBackend }): Promise<LayerNormBadInputsReport> {
  await useBackend(arg.backend);
  const x = tf.ones([3, 4, 5]);
  const g5 = tf.ones([5]);
  const probe = instrumentKernels();
  const bad: [string, () => unknown][] = [
    ['gamma of the wrong size', () => layerNorm(x, tf.ones([4]), null)],
    ['beta of the wrong size', () => layerNorm(x, g5, tf.ones([6]))],
    ['gamma for two axes, one given', () => layerNorm(x, g5, null, { axis: [1, 2] })],
    ['axis out of range', () => layerNorm(x, null, null, { axis: 3 })],
    ['axis listed twice', () => layerNorm(x, null, null, { axis: [2, -1] })],
    ['axis not an integer', () => layerNorm(x, null, null, { axis: 1.5 })],
    ['empty axis list', () => layerNorm(x, null, null, { axis: [] })],
    ['unknown activation', () => layerNorm(x, null, null, { activation: 'tanh' as NormActivation })],
    ['negative epsilon', () => layerNorm(x, null, null, { epsilon: -1e-3 })],
    ['residual of another shape', () => layerNorm(x, null, null, { residual: tf.ones([3, 4, 1]) })],
    ['x not a tensor', () => layerNorm([1, 2, 3] as unknown as tf.Tensor)],
    ['scalar x', () => layerNorm(tf.scalar(1))],
  ];
  const results = [];
  for (const [name, attempt] of bad) {
    let error = 'none';
    let code = 'none';
    tf.tidy(() => {
      try {
        attempt();
      } catch (e) {
        error = (e as Error).name;
        code = (e as { code?: string }).code ?? String(e);
      }
    });
    results.push({ name, error, code });
  }
  probe.restore();
  tf.dispose([x, g5]);
  return { results, kernelCalls: probe.calls.kernels };
}
