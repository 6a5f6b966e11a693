/**
 * Harness cases for TF.js's FusedBatchNorm kernel served by our kernels (src/tfjs/fused-batchnorm.ts):
 * tfjs-core's own batchNorm op tests (tfjs-core/src/ops/batchnorm_test.ts, TF.js 4.22) ported as
 * data — each returns what TF.js computed and what the original test expects, compared on the Node
 * side with TF.js's own expectArraysClose rule — plus seeded cases against a float64 reference.
 * Every case also reports which implementation ran, counted by a spy on the engine's encode methods
 * (independent of the library's own usage counters).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { fusedBatchNormUsage, registerFusedBatchNorm, unregisterFusedBatchNorm, type FusedBatchNormUsage } from '../../../src/tfjs/index';
import { GpuBatchNorm } from '../../../src/gpu/gpu-batchnorm';
import { caseSeed, createRng, normals, uniforms } from '../../support/random';

async function useBackend(name: 'webgpu' | 'cpu'): Promise<void> {
  if (tf.getBackend() !== name && !(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') failed`);
  await tf.ready();
}

/** One compared tensor: what TF.js returned and what the test expects. */
export interface PortCheck {
  label: string;
  actual: number[];
  shape: number[];
  expected: number[];
  expectedShape?: number[];
}

/** Calls of the engine's encode methods during a case: our kernels ran iff these are non-zero. */
export interface EngineCalls {
  inference: number;
  backward: number;
}

export interface PortResult {
  name: string;
  checks: PortCheck[];
  /** Error messages of the cases that expect TF.js's op validation to throw. */
  thrown?: string[];
  engine: EngineCalls;
  usage: FusedBatchNormUsage;
}

const spy: EngineCalls = { inference: 0, backward: 0 };
let spied = false;

/** Counts calls of GpuBatchNorm's encodeForwardInference / encodeBackward (our kernels), page-wide. */
function installSpy(): void {
  if (spied) return;
  spied = true;
  const proto = GpuBatchNorm.prototype;
  const inference = proto.encodeForwardInference;
  const backward = proto.encodeBackward;
  proto.encodeForwardInference = function (this: GpuBatchNorm, ...args: Parameters<typeof inference>) {
    spy.inference++;
    return inference.apply(this, args);
  };
  proto.encodeBackward = function (this: GpuBatchNorm, ...args: Parameters<typeof backward>) {
    spy.backward++;
    return backward.apply(this, args);
  };
}

async function check(label: string, t: tf.Tensor, expected: ArrayLike<number> | tf.Tensor, expectedShape?: number[]): Promise<PortCheck> {
  const e = expected instanceof tf.Tensor ? Array.from(await expected.data()) : Array.from(expected);
  return { label, actual: Array.from(await t.data()), shape: t.shape, expected: e, ...(expectedShape ? { expectedShape } : {}) };
}

/** offset + (x − mean) · scale / sqrt(variance + ε), parameters indexed by the last axis (the tests' formula). */
function formula(x: number[], mean: number[], variance: number[], offset: number[] | undefined, scale: number[] | undefined, eps: number, paramOf = (i: number) => i % mean.length): number[] {
  return x.map((v, i) => {
    const c = paramOf(i);
    return (offset ? offset[c] : 0) + ((v - mean[c]) * (scale ? scale[c] : 1)) / Math.sqrt(variance[c] + eps);
  });
}

type Rank = 2 | 3 | 4;
const SHAPES: Record<Rank, number[]> = { 2: [2, 2], 3: [2, 1, 2], 4: [2, 1, 1, 2] };
const opOf = (rank: Rank) => ({ 2: tf.batchNorm2d, 3: tf.batchNorm3d, 4: tf.batchNorm4d })[rank] as unknown as (...a: unknown[]) => tf.Tensor;

/** 'simple batchnormND, no offset or scale / no offset / no scale / full' and 'accepts a tensor-like object'. */
function simpleCase(rank: Rank, withOffset: boolean, withScale: boolean, tensorLike = false, offsetValues = [3, 4]): () => Promise<PortCheck[]> {
  return async () => {
    const xs = [2, 4, 9, 23];
    const mean = [1, 2];
    const variance = [2, 3];
    const offset = withOffset ? offsetValues : undefined;
    const scale = withScale ? [4, 5] : undefined;
    const eps = 0.001;
    const shape = SHAPES[rank];
    const arg = (v: number[] | undefined, s: number[]) => (v === undefined ? undefined : tensorLike ? (tf.tensor(v, s).arraySync() as unknown) : tf.tensor(v, s));
    const result = opOf(rank)(arg(xs, shape), arg(mean, [2]), arg(variance, [2]), arg(offset, [2]), arg(scale, [2]), eps);
    return [await check('result', result, formula(xs, mean, variance, offset, scale, eps))];
  };
}

/** 'simple batchnormND gradients' (4-D and 3-D: one tf.grad per input; dy of −1 in 4-D, 1 in 3-D). */
function simpleGradients(rank: 3 | 4): () => Promise<PortCheck[]> {
  return async () => {
    const shape = SHAPES[rank];
    const sign = rank === 4 ? -1 : 1;
    const x = tf.tensor([2, 4, 9, 23], shape);
    const mean = tf.tensor1d([1, 2]);
    const variance = tf.tensor1d([2, 3]);
    const offset = tf.tensor1d([3, 4]);
    const scale = tf.tensor1d([2, 5]);
    const dy = tf.fill(shape, sign);
    const op = opOf(rank);
    const eps = 0.001;
    const grad = (i: number) => tf.grad((t: tf.Tensor) => op(...[x, mean, variance, offset, scale].map((v, j) => (j === i ? t : v)), eps))([x, mean, variance, offset, scale][i], dy);
    const s = (v: number[]) => v.map((e) => sign * e);
    return [
      await check('gradX', grad(0), s([1.414, 2.887, 1.414, 2.887]), shape),
      await check('gradMean', grad(1), s([-2.828, -5.773]), [2]),
      await check('gradVariance', grad(2), s([-3.18, -11.06]), [2]),
      await check('gradOffset', grad(3), rank === 4 ? dy.sum([0, 1, 2]) : [2, 2], [2]),
      await check('gradScale', grad(4), s([6.362, 13.277]), [2]),
    ];
  };
}

/** 'batchnormND gradients, same shapes in x, mean and variance' (per-element parameters: stock kernel and gradient). */
function sameShapeGradients(rank: Rank): () => Promise<PortCheck[]> {
  return async () => {
    const shape = SHAPES[rank];
    const sign = rank === 4 ? -1 : 1;
    const x = tf.tensor([10, 20, 30, 40], shape);
    const mean = tf.tensor([0, 5, 10, 15], shape);
    const variance = tf.tensor([2, 4, 6, 8], shape);
    const scale = tf.tensor([2, 5, 2, 5], shape);
    const offset = tf.tensor([0, 0, 0, 0], shape);
    const dy = tf.fill(shape, sign);
    const op = opOf(rank);
    const grad = (i: number) => tf.grad((t: tf.Tensor) => op(...[x, mean, variance, offset, scale].map((v, j) => (j === i ? t : v)), 0.001))([x, mean, variance, offset, scale][i], dy);
    const s = (v: number[]) => v.map((e) => sign * e);
    return [
      await check('gradX', grad(0), s([1.414, 2.5, 0.816, 1.768]), shape),
      await check('gradMean', grad(1), s([-1.414, -2.5, -0.816, -1.768]), shape),
      await check('gradVariance', grad(2), s([-3.533, -4.686, -1.36, -2.762]), shape),
      await check('gradOffset', grad(3), dy, shape),
      await check('gradScale', grad(4), s([7.069, 7.499, 8.164, 8.838]), shape),
    ];
  };
}

/** 'simple batchnorm2D gradients, 2x2' and 'gradient with clones batchnorm2D': one tf.grads for all five. */
function grads2d(clones: boolean): () => Promise<PortCheck[]> {
  return async () => {
    const x = tf.tensor2d([2, 4, 9, 23], [2, 2]);
    const mean = tf.tensor1d([1, 2]);
    const variance = tf.tensor1d([2, 3]);
    const offset = tf.tensor1d([3, 4]);
    const scale = tf.tensor1d([2, 5]);
    const dy = tf.tensor2d([1, 1, 1, 1], [2, 2]);
    const c = (t: tf.Tensor) => (clones ? t.clone() : t);
    const [gx, gm, gv, go, gs] = tf.grads((xs: tf.Tensor, m: tf.Tensor, v: tf.Tensor, o: tf.Tensor, s: tf.Tensor) =>
      c(tf.batchNorm2d(c(xs) as tf.Tensor2D, c(m) as tf.Tensor1D, c(v) as tf.Tensor1D, c(o) as tf.Tensor1D, c(s) as tf.Tensor1D, 0.001)),
    )([x, mean, variance, offset, scale], dy);
    return [
      await check('gradX', gx, [1.414, 2.887, 1.414, 2.887], [2, 2]),
      await check('gradMean', gm, [-2.828, -5.773], [2]),
      await check('gradVariance', gv, [-3.18, -11.06], [2]),
      await check('gradOffset', go, [2, 2], [2]),
      await check('gradScale', gs, [6.362, 13.277], [2]),
    ];
  };
}

/** 'gradient with clones' on zeros of shape [2, 2] (per-element parameters): only shapes are checked. */
async function zerosClones(): Promise<PortCheck[]> {
  const z = () => tf.zeros([2, 2]);
  const inputs = [z(), z(), z(), z(), z()];
  const grads = tf.grads((xs: tf.Tensor, m: tf.Tensor, v: tf.Tensor, o: tf.Tensor, s: tf.Tensor) =>
    tf.batchNorm2d(xs.clone() as tf.Tensor2D, m.clone() as tf.Tensor2D, v.clone() as tf.Tensor2D, o.clone() as tf.Tensor2D, s.clone() as tf.Tensor2D, 0.001).clone(),
  )(inputs);
  // Values are not part of the original test (0 / sqrt(0.001) and friends): compare with themselves.
  return Promise.all(grads.map(async (g, i) => ({ label: `grad${i}`, actual: Array.from(await g.data()), shape: g.shape, expected: Array.from(await g.data()), expectedShape: [2, 2] })));
}

/** 'batchnorm3D, x,mean,var,offset,scale are all 3D'. */
async function all3d(): Promise<PortCheck[]> {
  const shape = [2, 1, 2];
  const vals = { x: [2, 4, 9, 23], mean: [1, 2, 3, 4], variance: [2, 3, 4, 5], offset: [3, 4, 5, 6], scale: [4, 5, 6, 7] };
  const t = (v: number[]) => tf.tensor3d(v, shape as [number, number, number]);
  const result = tf.batchNorm3d(t(vals.x), t(vals.mean), t(vals.variance), t(vals.offset), t(vals.scale), 0.001);
  return [await check('result', result, formula(vals.x, vals.mean, vals.variance, vals.offset, vals.scale, 0.001, (i) => i))];
}

async function matchesTensorflow2x3x3(): Promise<PortCheck[]> {
  const x = tf.tensor3d(
    [0.49955603, 0.04158615, -1.09440524, 2.03854165, -0.61578344, 2.87533573, 1.18105987, 0.807462, 1.87888837, 2.26563962, -0.37040935, 1.35848753, -0.75347094, 0.15683117, 0.91925946, 0.34121279, 0.92717143, 1.89683965],
    [2, 3, 3],
  );
  const result = tf.batchNorm3d(x, tf.tensor1d([0.39745062, -0.48062894, 0.4847822]), tf.tensor1d([0.32375343, 0.67117643, 1.08334653]), tf.tensor1d([0.69398749, -1.29056387, 0.9429723]), tf.tensor1d([-0.5607271, 0.9878457, 0.25181573]), 0.001);
  return [
    await check('result', result, [
      0.59352049, -0.66135202, 0.5610874, -0.92077015, -1.45341019, 1.52106473, -0.07704776, 0.26144429, 1.28010017, -1.14422404, -1.15776136, 1.15425493, 1.82644104, -0.52249442, 1.04803919, 0.74932291, 0.40568101, 1.2844412,
    ]),
  ];
}

async function matchesTensorflow3x3(): Promise<PortCheck[]> {
  const x = tf.tensor2d([0.3136892, 0.92389025, 0.594782, 0.05021042, 0.67545404, 0.93910035, 0.13277993, 0.96474269, 0.88608916], [3, 3]);
  const result = tf.batchNorm2d(x, tf.tensor1d([0.19526312, 0.74857256, 0.45166398]), tf.tensor1d([0.22963001, 0.61521992, 0.46623685]), tf.tensor1d([0.43098484, 0.77712237, 0.47916298]), tf.tensor1d([0.62186907, 0.85673736, 0.19201061]), 0.001);
  return [await check('result', result, [0.58433646, 0.96846228, 0.51936529, 0.24315402, 0.69732157, 0.61608542, 0.35007446, 1.01304821, 0.60119441])];
}

/** The 'throws when passed … as a non-tensor' and 'throws error when … is a string tensor' tests. */
function throwsCases(): string[] {
  const x4 = () => tf.tensor4d([2, 4, 9, 23], [2, 1, 1, 2]);
  const m = () => tf.tensor1d([1, 2]);
  const v = () => tf.tensor1d([2, 3]);
  const attempts: (() => unknown)[] = [
    () => tf.batchNorm({} as tf.Tensor, m(), v()),
    () => tf.batchNorm(x4(), {} as tf.Tensor, v()),
    () => tf.batchNorm(x4(), m(), {} as tf.Tensor),
    () => tf.batchNorm(x4(), m(), v(), 0.001 as unknown as tf.Tensor, {} as tf.Tensor),
    () => tf.batchNorm(x4(), m(), v(), {} as tf.Tensor, tf.tensor1d([0.62186907, 0.85673736, 0.19201061]), 0.001),
    () => tf.batchNorm2d([['a', 'b'], ['c', 'd']] as unknown as number[][], [1, 2], [2, 3], [3, 4], [4, 5], 0.001),
    () => tf.batchNorm2d([[2, 4], [9, 23]], ['a', 'b'] as unknown as number[], [2, 3], [3, 4], [4, 5], 0.001),
    () => tf.batchNorm2d([[2, 4], [9, 23]], [1, 2], ['a', 'b'] as unknown as number[], [3, 4], [4, 5], 0.001),
    () => tf.batchNorm2d([[2, 4], [9, 23]], [1, 2], [2, 3], [3, 4], ['a', 'b'] as unknown as number[], 0.001),
    () => tf.batchNorm2d([[2, 4], [9, 23]], [1, 2], [2, 3], ['a', 'b'] as unknown as number[], [4, 5], 0.001),
  ];
  return attempts.map((attempt) => {
    try {
      attempt();
      return 'did not throw';
    } catch (error) {
      return (error as Error).message;
    }
  });
}

/** The ported cases, in the order of batchnorm_test.ts. */
const portCases: Record<string, () => Promise<PortCheck[]>> = {
  'batchNorm4D: simple batchnorm4D, no offset or scale, 2x1x1x2': simpleCase(4, false, false),
  'batchNorm4D: simple batchnorm4D, no offset, 2x1x1x2': simpleCase(4, false, true),
  'batchNorm4D: simple batchnorm4D, no scale, 2x1x1x2': simpleCase(4, true, false, false, [4, 5]),
  'batchNorm4D: simple batchnorm4D, 2x1x1x2': simpleCase(4, true, true),
  'batchNorm4D: accepts a tensor-like object': simpleCase(4, true, true, true),
  'batchNorm4D: simple batchnorm4D gradients, 2x1x1x2': simpleGradients(4),
  'batchNorm4D: batchnorm4D gradients, same shapes in x, mean and variance': sameShapeGradients(4),
  'batchNorm3D: simple batchnorm3D, no offset or scale, 2x1x2': simpleCase(3, false, false),
  'batchNorm3D: simple batchnorm3D, no offset, 2x1x2': simpleCase(3, false, true),
  'batchNorm3D: simple batchnorm3D, no scale, 2x1x2': simpleCase(3, true, false, false, [4, 5]),
  'batchNorm3D: simple batchnorm3D, 2x1x2': simpleCase(3, true, true),
  'batchNorm3D: accepts a tensor-like object': simpleCase(3, true, true, true),
  'batchNorm3D: batchnorm3D, x,mean,var,offset,scale are all 3D': all3d,
  'batchNorm3D: simple batchnorm3D gradients, 2x1x2': simpleGradients(3),
  'batchNorm3D: batchnorm3D gradients, same shapes in x, mean and variance': sameShapeGradients(3),
  'batchNorm3D: batchnorm matches tensorflow, 2x3x3': matchesTensorflow2x3x3,
  'batchNorm2D: simple batchnorm2D, no offset or scale, 2x2': simpleCase(2, false, false),
  'batchNorm2D: simple batchnorm2D, no offset, 2x2': simpleCase(2, false, true),
  'batchNorm2D: simple batchnorm2D, no scale, 2x2': simpleCase(2, true, false, false, [4, 5]),
  'batchNorm2D: simple batchnorm2D, 2x2': simpleCase(2, true, true),
  'batchNorm2D: simple batchnorm2D gradients, 2x2': grads2d(false),
  'batchNorm2D: gradient with clones batchnorm2D': grads2d(true),
  'batchNorm2D: batchnorm2D gradients, same shapes in x, mean and variance': sameShapeGradients(2),
  'batchNorm2D: gradient with clones': zerosClones,
  'batchNorm2D: batchnorm2D matches tensorflow, 3x3': matchesTensorflow3x3,
  'batchNorm2D: accepts a tensor-like object': simpleCase(2, true, true, true),
};


function usageSince(before: FusedBatchNormUsage): FusedBatchNormUsage {
  const now = fusedBatchNormUsage();
  return {
    ours: now.ours - before.ours,
    stock: now.stock - before.stock,
    oursGradient: now.oursGradient - before.oursGradient,
    stockGradient: now.stockGradient - before.stockGradient,
    ...(now.lastFallback !== before.lastFallback ? { lastFallback: now.lastFallback } : {}),
  };
}

async function measured(name: string, run: () => Promise<PortCheck[]>): Promise<PortResult> {
  const before = { ...spy };
  const usageBefore = fusedBatchNormUsage();
  const checks = await run();
  return { name, checks, engine: { inference: spy.inference - before.inference, backward: spy.backward - before.backward }, usage: usageSince(usageBefore) };
}

export interface PortReport {
  results: PortResult[];
  thrown: string[];
  leakedTensors: number;
}

/** Every ported case on 'webgpu' with our kernel registered. */
export async function runFusedPort(): Promise<PortReport> {
  await useBackend('webgpu');
  installSpy();
  registerFusedBatchNorm();
  const before = tf.memory().numTensors;
  const results: PortResult[] = [];
  for (const [name, run] of Object.entries(portCases)) {
    tf.engine().startScope();
    try {
      results.push(await measured(name, run));
    } finally {
      tf.engine().endScope();
    }
  }
  tf.engine().startScope();
  const thrown = throwsCases();
  tf.engine().endScope();
  const leakedTensors = tf.memory().numTensors - before;
  unregisterFusedBatchNorm();
  return { results, thrown, leakedTensors };
}

/* ---------------------------------------------------------------- seeded, float64 reference */

/** What one seeded case computed, with the float64 reference and the magnitude its error bound scales with. */
export interface ReferenceCheck {
  label: string;
  actual: number[];
  shape: number[];
  reference: number[];
  /** Per element: the sum of |terms| the float32 computation rounds (see the test's bound). */
  magnitude: number[];
  /** Per element: how many terms a reduction summed (1 for elementwise results). */
  terms: number[];
}

export interface ReferenceResult {
  name: string;
  /** Whether gradients were taken (and checked). */
  grads: boolean;
  checks: ReferenceCheck[];
  engine: EngineCalls;
  usage: FusedBatchNormUsage;
}

interface Broadcast {
  name: string;
  x: number[];
  /** Shape of mean, variance, offset and scale. */
  param: number[];
  center?: number;
  /** Whether to take gradients (TF.js reduces parameter gradients only for rank-1 parameters). */
  grads: boolean;
}

/** Index of the parameter element broadcast onto each element of x (right-aligned broadcasting). */
function paramIndex(x: number[], param: number[]): (i: number) => number {
  const lead = x.length - param.length;
  return (i) => {
    let rest = i;
    let index = 0;
    let stride = 1;
    for (let a = x.length - 1; a >= 0; a--) {
      const coord = rest % x[a];
      rest = Math.floor(rest / x[a]);
      const p = a - lead;
      if (p >= 0) {
        if (param[p] !== 1) index += coord * stride;
        stride *= param[p];
      }
    }
    return index;
  };
}

async function values(t: tf.Tensor): Promise<number[]> {
  return Array.from(await t.data());
}

async function referenceCase(seed: number, c: Broadcast): Promise<ReferenceResult> {
  const rng = createRng(caseSeed(seed, c.name));
  const size = c.x.reduce((a, b) => a * b, 1);
  const P = c.param.reduce((a, b) => a * b, 1);
  const center = c.center ?? 0;
  const data = {
    x: normals(rng, size, center, 1),
    mean: uniforms(rng, P, center - 0.5, center + 0.5),
    variance: uniforms(rng, P, 0.2, 3),
    offset: normals(rng, P),
    scale: normals(rng, P, 1, 0.5),
    dy: normals(rng, size),
  };
  const eps = 1e-3;
  const pOf = paramIndex(c.x, c.param);
  const f64 = (i: number) => {
    const p = pOf(i);
    const invStd = 1 / Math.sqrt(data.variance[p] + eps);
    return { p, invStd, s: data.scale[p] * invStd, d: data.x[i] - data.mean[p] };
  };
  const run = async (): Promise<ReferenceCheck[]> => {
    const x = tf.tensor(data.x, c.x);
    const [mean, variance, offset, scale] = [data.mean, data.variance, data.offset, data.scale].map((v) => tf.tensor(v, c.param));
    // x comes from a TF.js op queued right before the kernel, and y goes into one right after.
    const y = tf.mul(tf.batchNorm(tf.add(x, 0), mean, variance, offset, scale, eps), 1);
    const yRef: number[] = [];
    const yMag: number[] = [];
    for (let i = 0; i < size; i++) {
      const { p, s } = f64(i);
      yRef.push(data.offset[p] + (data.x[i] - data.mean[p]) * s);
      yMag.push(Math.abs(data.x[i] * s) + Math.abs(data.mean[p] * s) + Math.abs(data.offset[p]) + Math.abs(yRef[i]));
    }
    const checks: ReferenceCheck[] = [{ label: 'y', actual: await values(y), shape: y.shape, reference: yRef, magnitude: yMag, terms: yRef.map(() => 1) }];
    if (!c.grads) return checks;
    const dy = tf.tensor(data.dy, c.x);
    const g = tf.grads((a: tf.Tensor, m: tf.Tensor, v: tf.Tensor, o: tf.Tensor, sc: tf.Tensor) => tf.batchNorm(a, m, v, o, sc, eps))([x, mean, variance, offset, scale], dy);
    const sums = { mean: new Array<number>(P).fill(0), variance: new Array<number>(P).fill(0), offset: new Array<number>(P).fill(0), scale: new Array<number>(P).fill(0) };
    const mags = { mean: new Array<number>(P).fill(0), variance: new Array<number>(P).fill(0), offset: new Array<number>(P).fill(0), scale: new Array<number>(P).fill(0) };
    const dx: number[] = [];
    for (let i = 0; i < size; i++) {
      const { p, invStd, s, d } = f64(i);
      const dyi = data.dy[i];
      dx.push(dyi * s);
      const terms = { offset: dyi, scale: dyi * d * invStd, mean: -s * dyi, variance: -0.5 * s * invStd * invStd * dyi * d };
      for (const k of ['mean', 'variance', 'offset', 'scale'] as const) {
        sums[k][p] += terms[k];
        mags[k][p] += Math.abs(terms[k]);
      }
    }
    const counts = new Array<number>(P).fill(size / P);
    checks.push({ label: 'dx', actual: await values(g[0]), shape: g[0].shape, reference: dx, magnitude: dx.map(Math.abs), terms: dx.map(() => 1) });
    const order = ['mean', 'variance', 'offset', 'scale'] as const;
    for (let k = 0; k < 4; k++) {
      const name = order[k];
      checks.push({ label: `d${name}`, actual: await values(g[k + 1]), shape: g[k + 1].shape, reference: sums[name], magnitude: mags[name], terms: counts });
    }
    return checks;
  };
  tf.engine().startScope();
  try {
    const before = { ...spy };
    const usageBefore = fusedBatchNormUsage();
    const checks = await run();
    return { name: c.name, grads: c.grads, checks, engine: { inference: spy.inference - before.inference, backward: spy.backward - before.backward }, usage: usageSince(usageBefore) };
  } finally {
    tf.engine().endScope();
  }
}

/** Rank-1 parameters (x of rank 1 to 4, odd sizes, C = 1) and parameters of x's rank broadcast along one axis. */
const broadcastCases: Broadcast[] = [
  { name: 'x [7,5,3,13], params [13]', x: [7, 5, 3, 13], param: [13], grads: true },
  { name: 'x [3,5,7], params [7]', x: [3, 5, 7], param: [7], grads: true },
  { name: 'x [37], params [37]', x: [37], param: [37], grads: true },
  { name: 'x [67,1], params [1] (C = 1)', x: [67, 1], param: [1], grads: true },
  { name: 'x [6,5], params [1] broadcast to every channel', x: [6, 5], param: [1], grads: true },
  { name: 'x [2,1030], params [1030] (more channels than a workgroup)', x: [2, 1030], param: [1030], grads: true },
  { name: 'x [129,3], params [3] (rows span workgroups)', x: [129, 3], param: [3], grads: true },
  { name: 'x [5,3,4,4], params [1,3,1,1] (NCHW)', x: [5, 3, 4, 4], param: [1, 3, 1, 1], grads: false },
  { name: 'x [4,6,5], params [1,6,1]', x: [4, 6, 5], param: [1, 6, 1], grads: false },
  { name: 'x [9,4], params [1,4]', x: [9, 4], param: [1, 4], grads: false },
  { name: 'x [3,3,2,5], params [5], mean 1e4 ± 0.5', x: [3, 3, 2, 5], param: [5], center: 1e4, grads: true },
];

export interface ReferenceReport {
  results: ReferenceResult[];
  /** Cases our kernel does not serve: still TF.js's values, from the stock kernel. */
  fallbacks: { name: string; stockKernelRan: boolean; oursRan: boolean; diff: number; reason?: string }[];
  leakedTensors: number;
}

/** Seeded broadcast cases against float64; then shapes we leave to the stock kernel, compared with it. */
export async function runFusedReference(arg: { seed: number }): Promise<ReferenceReport> {
  await useBackend('webgpu');
  installSpy();
  registerFusedBatchNorm();
  const before = tf.memory().numTensors;
  const results: ReferenceResult[] = [];
  for (const c of broadcastCases) results.push(await referenceCase(arg.seed, c));

  const rng = createRng(caseSeed(arg.seed, 'fallbacks'));
  const t = (shape: number[], low = -1, high = 1) => tf.keep(tf.tensor(uniforms(rng, shape.reduce((a, b) => a * b, 1), low, high), shape));
  const fallbackCases: { name: string; inputs: (tf.Tensor | undefined)[] }[] = [
    { name: 'per-element parameters [4,3]', inputs: [t([4, 3]), t([4, 3]), t([4, 3], 0.5, 2), t([4, 3]), t([4, 3])] },
    { name: 'mean [3], scale [1] (mixed shapes)', inputs: [t([4, 3]), t([3]), t([3], 0.5, 2), t([3]), t([1])] },
    { name: 'parameters [2,1,3] along two axes of x [2,4,3]', inputs: [t([2, 4, 3]), t([2, 1, 3]), t([2, 1, 3], 0.5, 2), undefined, undefined] },
    { name: 'int32 x', inputs: [tf.keep(tf.tensor([1, 2, 3, 4, 5, 6], [2, 3], 'int32')), t([3]), t([3], 0.5, 2), undefined, undefined] },
  ];
  const fallbacks: ReferenceReport['fallbacks'] = [];
  for (const c of fallbackCases) {
    tf.engine().startScope();
    try {
      const [x, mean, variance, offset, scale] = c.inputs as tf.Tensor[];
      const spyBefore = spy.inference;
      const usageBefore = fusedBatchNormUsage();
      const registered = await values(tf.batchNorm(x, mean, variance, offset, scale, 1e-3));
      const usage = usageSince(usageBefore);
      const oursRan = spy.inference > spyBefore;
      unregisterFusedBatchNorm();
      const stockValues = await values(tf.batchNorm(x, mean, variance, offset, scale, 1e-3));
      registerFusedBatchNorm();
      const diff = registered.reduce((worst, v, i) => (Object.is(v, stockValues[i]) ? worst : Math.max(worst, Math.abs(v - stockValues[i]) || Infinity)), 0);
      fallbacks.push({ name: c.name, stockKernelRan: usage.stock === 1 && usage.ours === 0, oursRan, diff, reason: usage.lastFallback });
    } finally {
      tf.engine().endScope();
    }
    tf.dispose(c.inputs.filter((i): i is tf.Tensor => i !== undefined));
  }
  const leakedTensors = tf.memory().numTensors - before;
  unregisterFusedBatchNorm();
  return { results, fallbacks, leakedTensors };
}

/* ---------------------------------------------------------------- training, other backends, restore */

export interface TrainingReport {
  name: string;
  /** max |registered − stock| / max |stock| for dx, dscale, doffset and the loss's y. */
  stockRelDiff: Record<string, number>;
  /** The same against the float64 training-mode gradient. */
  referenceRelDiff: Record<string, number>;
  engine: EngineCalls;
  usage: FusedBatchNormUsage;
  leakedTensors: number;
}

async function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): Promise<number> {
  let worst = 0;
  let peak = 0;
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    worst = Number.isNaN(d) ? Infinity : Math.max(worst, d);
    peak = Math.max(peak, Math.abs(b[i]));
  }
  return worst / Math.max(peak, 1e-30);
}

/**
 * Training through tf.moments + tf.batchNorm (what tfjs-layers' BatchNormalization does in
 * training): the gradients with respect to x, scale and offset, with our kernel registered and with
 * TF.js's stock kernel, and the float64 training-mode gradient.
 */
export async function runFusedTraining(arg: { seed: number; shape: number[] }): Promise<TrainingReport> {
  await useBackend('webgpu');
  installSpy();
  const name = `moments + batchNorm, x ${JSON.stringify(arg.shape)}`;
  const rng = createRng(caseSeed(arg.seed, name));
  const size = arg.shape.reduce((a, b) => a * b, 1);
  const C = arg.shape[arg.shape.length - 1];
  const M = size / C;
  const data = { x: normals(rng, size, 2, 1.5), gamma: normals(rng, C, 1, 0.3), beta: normals(rng, C), dy: normals(rng, size) };
  const eps = 1e-3;
  const axes = arg.shape.slice(0, -1).map((_, i) => i);
  const before = tf.memory().numTensors;
  const step = async () => {
    const out = tf.tidy(() => {
      const x = tf.tensor(data.x, arg.shape);
      const dy = tf.tensor(data.dy, arg.shape);
      const f = (xs: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
        const { mean, variance } = tf.moments(xs, axes);
        return tf.batchNorm(xs, mean, variance, b, g, eps);
      };
      const [dx, dgamma, dbeta] = tf.grads(f)([x, tf.tensor1d(data.gamma), tf.tensor1d(data.beta)], dy);
      return { y: f(x, tf.tensor1d(data.gamma), tf.tensor1d(data.beta)), dx, dgamma, dbeta };
    });
    const result = { y: await values(out.y), dx: await values(out.dx), dgamma: await values(out.dgamma), dbeta: await values(out.dbeta) };
    tf.dispose(out as unknown as tf.TensorContainer);
    return result;
  };
  registerFusedBatchNorm();
  const spyBefore = { ...spy };
  const usageBefore = fusedBatchNormUsage();
  const ours = await step();
  const usage = usageSince(usageBefore);
  const engine = { inference: spy.inference - spyBefore.inference, backward: spy.backward - spyBefore.backward };
  unregisterFusedBatchNorm();
  const stock = await step();

  // float64 training-mode batch norm: x̂ = (x − μ)/σ, dx = γ/(σM)·(M·dy − Σdy − x̂·Σdy·x̂).
  const mu = new Array<number>(C).fill(0);
  const v = new Array<number>(C).fill(0);
  for (let i = 0; i < size; i++) mu[i % C] += data.x[i] / M;
  for (let i = 0; i < size; i++) v[i % C] += (data.x[i] - mu[i % C]) ** 2 / M;
  const invStd = v.map((e) => 1 / Math.sqrt(e + eps));
  const xhat = Array.from(data.x, (e, i) => (e - mu[i % C]) * invStd[i % C]);
  const dbeta = new Array<number>(C).fill(0);
  const dgamma = new Array<number>(C).fill(0);
  for (let i = 0; i < size; i++) {
    dbeta[i % C] += data.dy[i];
    dgamma[i % C] += data.dy[i] * xhat[i];
  }
  const dx = Array.from(data.dy, (d, i) => ((data.gamma[i % C] * invStd[i % C]) / M) * (M * d - dbeta[i % C] - xhat[i] * dgamma[i % C]));
  const y = xhat.map((e, i) => data.gamma[i % C] * e + data.beta[i % C]);
  const reference = { y, dx, dgamma, dbeta };
  const keys = ['y', 'dx', 'dgamma', 'dbeta'] as const;
  const stockRelDiff: Record<string, number> = {};
  const referenceRelDiff: Record<string, number> = {};
  for (const k of keys) {
    stockRelDiff[k] = await relDiff(ours[k], stock[k]);
    referenceRelDiff[k] = await relDiff(ours[k], reference[k]);
  }
  return { name, stockRelDiff, referenceRelDiff, engine, usage, leakedTensors: tf.memory().numTensors - before };
}

export interface DelegationReport {
  /** On 'cpu', registered vs unregistered: every value identical (the stock kernel and gradient ran). */
  cpuIdentical: boolean;
  cpuUsage: FusedBatchNormUsage;
  cpuEngine: EngineCalls;
  /** After unregisterFusedBatchNorm: the very kernel and gradient configs TF.js had. */
  kernelRestored: boolean;
  gradientRestored: boolean;
  /** Our kernel on 'webgpu' while registered, none of it after unregistering. */
  webgpuEngineRegistered: EngineCalls;
  webgpuEngineAfter: EngineCalls;
}

/** The gradient is registered for every backend: on 'cpu' it must hand everything to TF.js's own. */
export async function runFusedDelegation(): Promise<DelegationReport> {
  installSpy();
  const kernel = tf.getKernel(tf.FusedBatchNorm, 'webgpu');
  const gradient = tf.getGradient(tf.FusedBatchNorm);
  const all = async () => {
    const out = tf.tidy(() => {
      const x = tf.tensor2d([2, 4, 9, 23, -3, 0.5], [3, 2]);
      const inputs = [x, tf.tensor1d([1, 2]), tf.tensor1d([2, 3]), tf.tensor1d([3, 4]), tf.tensor1d([2, 5])];
      const f = (a: tf.Tensor, m: tf.Tensor, v: tf.Tensor, o: tf.Tensor, s: tf.Tensor) => tf.batchNorm(a, m, v, o, s, 0.001);
      return [f(inputs[0], inputs[1], inputs[2], inputs[3], inputs[4]), ...tf.grads(f)(inputs, tf.tensor2d([1, -2, 0.5, 3, -1, 2], [3, 2]))];
    });
    const result = await Promise.all(out.map(values));
    tf.dispose(out);
    return result.flat();
  };
  await useBackend('cpu');
  // Twice on purpose: registering is idempotent, and one unregister below restores TF.js's own.
  registerFusedBatchNorm();
  registerFusedBatchNorm();
  const spyBefore = { ...spy };
  const usageBefore = fusedBatchNormUsage();
  const registeredCpu = await all();
  const cpuUsage = usageSince(usageBefore);
  const cpuEngine = { inference: spy.inference - spyBefore.inference, backward: spy.backward - spyBefore.backward };
  await useBackend('webgpu');
  const webgpuBefore = { ...spy };
  await all();
  const webgpuEngineRegistered = { inference: spy.inference - webgpuBefore.inference, backward: spy.backward - webgpuBefore.backward };
  unregisterFusedBatchNorm();
  const afterBefore = { ...spy };
  await all();
  const webgpuEngineAfter = { inference: spy.inference - afterBefore.inference, backward: spy.backward - afterBefore.backward };
  await useBackend('cpu');
  const stockCpu = await all();
  await useBackend('webgpu');
  return {
    cpuIdentical: registeredCpu.length === stockCpu.length && registeredCpu.every((v, i) => Object.is(v, stockCpu[i])),
    cpuUsage,
    cpuEngine,
    kernelRestored: tf.getKernel(tf.FusedBatchNorm, 'webgpu') === kernel,
    gradientRestored: tf.getGradient(tf.FusedBatchNorm) === gradient,
    webgpuEngineRegistered,
    webgpuEngineAfter,
  };
}

export interface FeatureCheckReport {
  warnings: string[];
  /** Both calls ran TF.js's stock kernel (ours refused the backend) and gave its values. */
  stockCalls: number;
  oursCalls: number;
  engineInference: number;
  diff: number;
}

/**
 * A WebGPUBackend without the private command encoder field our kernels record into (as a future
 * TF.js might be): the registered kernel must fall back to the stock one, warning once.
 */
export async function runFusedFeatureCheck(): Promise<FeatureCheckReport> {
  await useBackend('webgpu');
  installSpy();
  registerFusedBatchNorm();
  const backend = tf.backend();
  const hidden = new Proxy(backend, { has: (target, key) => key !== 'commandEncoder' && Reflect.has(target, key) });
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => void warnings.push(args.map(String).join(' '));
  const spyBefore = spy.inference;
  const usageBefore = fusedBatchNormUsage();
  const kernel = tf.getKernel(tf.FusedBatchNorm, 'webgpu')!;
  const inputs = { x: tf.tensor4d([2, 4, 9, 23], [1, 1, 2, 2]), mean: tf.tensor1d([1, 2]), variance: tf.tensor1d([2, 3]), offset: tf.tensor1d([3, 4]), scale: tf.tensor1d([4, 5]) };
  const outputs: number[][] = [];
  try {
    for (let i = 0; i < 2; i++) {
      const info = kernel.kernelFunc({ inputs, attrs: { varianceEpsilon: 0.001 }, backend: hidden }) as tf.TensorInfo;
      const t = tf.engine().makeTensorFromTensorInfo(info);
      outputs.push(await values(t));
      t.dispose();
    }
  } finally {
    console.warn = warn;
  }
  const usage = usageSince(usageBefore);
  const expected = formula([2, 4, 9, 23], [1, 2], [2, 3], [3, 4], [4, 5], 0.001);
  const diff = Math.max(...outputs.flat().map((v, i) => Math.abs(v - expected[i % 4])));
  tf.dispose(Object.values(inputs));
  unregisterFusedBatchNorm();
  return { warnings, stockCalls: usage.stock, oursCalls: usage.ours, engineInference: spy.inference - spyBefore, diff };
}
