/*
 * The non-finite rules of the README (Reliability), as checks shared by the Node test of the CPU
 * path and the GPU test: scenarios that plant NaN or ±Inf in one channel, the results each rule
 * predicts, and a comparison of two results by class (NaN, +Inf, −Inf, finite) and value.
 * Browser-safe.
 */
import type { BatchNorm } from '../../src/engine';
import type { ForwardTrainResult } from '../../src/types';
import { channelOf, splitShape } from './channel-index';
import { caseSeed, channelNormals, createRng, normals } from './random';

export type Op = 'train' | 'inference' | 'backward-train' | 'backward-eval' | 'statistics';

export interface Scenario {
  name: string;
  op: Op;
  shape: number[];
  layout?: 'NC' | 'NCHW' | 'NHWC' | 'NCL';
  activation: 'none' | 'relu';
  /**
   * Where the bad value goes: array, element (x, dy) or channel (per-channel arrays), value;
   * 'constant' sets every x of channel `index` to `value` (a channel of zero variance).
   */
  plant: { array: 'x' | 'dy' | 'gamma' | 'runningVar' | 'constant'; index: number; value: number }[];
  /** eps of every call (default: the convention's); 0 makes a zero variance divide by zero. */
  eps?: number;
}

export interface Inputs {
  x: Float32Array;
  dy: Float32Array;
  gamma: Float32Array;
  beta: Float32Array;
  runningMean: Float32Array;
  runningVar: Float32Array;
}

/** Seeded finite inputs with the scenario's non-finite values planted. */
export function scenarioInputs(seed: number, s: Scenario): Inputs {
  const rng = createRng(caseSeed(seed, s.name));
  const { outer, channels, inner } = splitShape(s.shape, s.layout);
  const means = Array.from({ length: channels }, () => rng.normal());
  const stds = Array.from({ length: channels }, () => 0.5 + rng.uniform());
  const inputs: Inputs = {
    x: channelNormals(rng, s.shape, s.layout, means, stds),
    dy: normals(rng, outer * channels * inner),
    gamma: normals(rng, channels, 1, 0.3),
    beta: normals(rng, channels, 0, 0.3),
    runningMean: Float32Array.from(means),
    runningVar: Float32Array.from(stds, (v) => v * v),
  };
  for (const p of s.plant) {
    if (p.array === 'constant') {
      for (let k = 0; k < outer * inner; k++) inputs.x[elementOf(s.shape, s.layout, p.index, k)] = p.value;
    } else {
      inputs[p.array][p.index] = p.value;
    }
  }
  return inputs;
}

/** Element index of channel `c`'s k-th value in a [outer, C, inner] view. */
export function elementOf(shape: number[], layout: string | undefined, c: number, k: number): number {
  const { channels, inner } = splitShape(shape, layout);
  return (Math.floor(k / inner) * channels + c) * inner + (k % inner);
}

export function scenarios(): Scenario[] {
  const list: Scenario[] = [];
  const shapes: [Scenario['layout'], number[]][] = [
    ['NC', [700, 8]], // statistics in rows, vec4 lanes, several row chunks
    ['NCHW', [3, 5, 9, 7]], // runs, scalar
    ['NHWC', [2, 6, 5, 3]], // rows, scalar
    ['NCL', [4, 3, 64]], // runs, vec4
  ];
  for (const [layout, shape] of shapes) {
    const e = (c: number, k: number) => elementOf(shape, layout, c, k);
    const C = splitShape(shape, layout).channels;
    const last = C - 1;
    const tag = `${layout} [${shape}]`;
    list.push(
      { name: `${tag} train: NaN first in channel 0 (the pivot)`, op: 'train', shape, layout, activation: 'relu', plant: [{ array: 'x', index: e(0, 0), value: NaN }] },
      { name: `${tag} train: NaN in the middle of channel ${last}`, op: 'train', shape, layout, activation: 'none', plant: [{ array: 'x', index: e(last, 17), value: NaN }] },
      { name: `${tag} train: +Inf in channel 1`, op: 'train', shape, layout, activation: 'relu', plant: [{ array: 'x', index: e(1, 5), value: Infinity }] },
      { name: `${tag} train: +Inf and −Inf in channel 0`, op: 'train', shape, layout, activation: 'none', plant: [{ array: 'x', index: e(0, 3), value: -Infinity }, { array: 'x', index: e(0, 9), value: Infinity }] },
      { name: `${tag} train: ±1e20 overflow the variance of channel 1`, op: 'train', shape, layout, activation: 'none', plant: [{ array: 'x', index: e(1, 2), value: 1e20 }, { array: 'x', index: e(1, 4), value: -1e20 }] },
      { name: `${tag} train: NaN γ of channel 1`, op: 'train', shape, layout, activation: 'relu', plant: [{ array: 'gamma', index: 1, value: NaN }] },
      { name: `${tag} inference: NaN, +Inf, −Inf in x`, op: 'inference', shape, layout, activation: 'relu', plant: [{ array: 'x', index: e(0, 1), value: NaN }, { array: 'x', index: e(1, 2), value: Infinity }, { array: 'x', index: e(1, 3), value: -Infinity }] },
      { name: `${tag} inference: NaN running variance of channel 0`, op: 'inference', shape, layout, activation: 'none', plant: [{ array: 'runningVar', index: 0, value: NaN }] },
      { name: `${tag} backward train: NaN in dy of channel 1`, op: 'backward-train', shape, layout, activation: 'none', plant: [{ array: 'dy', index: e(1, 6), value: NaN }] },
      { name: `${tag} backward train: +Inf in dy of channel 0`, op: 'backward-train', shape, layout, activation: 'none', plant: [{ array: 'dy', index: e(0, 2), value: Infinity }] },
      { name: `${tag} backward train: NaN in x of channel ${last}, relu`, op: 'backward-train', shape, layout, activation: 'relu', plant: [{ array: 'x', index: e(last, 8), value: NaN }] },
      { name: `${tag} backward eval: NaN in x of channel 0, relu`, op: 'backward-eval', shape, layout, activation: 'relu', plant: [{ array: 'x', index: e(0, 4), value: NaN }] },
      { name: `${tag} backward eval: −Inf in dy of channel 1`, op: 'backward-eval', shape, layout, activation: 'none', plant: [{ array: 'dy', index: e(1, 7), value: -Infinity }] },
      { name: `${tag} statistics: NaN in channel 1`, op: 'statistics', shape, layout, activation: 'none', plant: [{ array: 'x', index: e(1, 11), value: NaN }] },
      // eps = 0 (as PyTorch, TF.js and ONNX accept it): a channel of zero variance divides by zero.
      { name: `${tag} train, eps 0: channel 1 constant 2.5`, op: 'train', shape, layout, activation: 'relu', eps: 0, plant: [{ array: 'constant', index: 1, value: 2.5 }] },
      { name: `${tag} train, eps 0: channel 0 all zeros`, op: 'train', shape, layout, activation: 'none', eps: 0, plant: [{ array: 'constant', index: 0, value: 0 }] },
      { name: `${tag} inference, eps 0: running variance 0 in channel ${last}`, op: 'inference', shape, layout, activation: 'none', eps: 0, plant: [{ array: 'runningVar', index: last, value: 0 }] },
      { name: `${tag} backward train, eps 0: channel 1 constant −3`, op: 'backward-train', shape, layout, activation: 'none', eps: 0, plant: [{ array: 'constant', index: 1, value: -3 }] },
      { name: `${tag} backward eval, eps 0: running variance 0 in channel 0`, op: 'backward-eval', shape, layout, activation: 'none', eps: 0, plant: [{ array: 'runningVar', index: 0, value: 0 }] },
    );
  }
  return list;
}

export type Outputs = Record<string, ArrayLike<number>>;

const classOf = (v: number) => (Number.isNaN(v) ? 'NaN' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : 'finite');

/**
 * Differences between two results of the same scenario: the class of every element must match
 * exactly, finite values to 1e-3 relative (these checks are about propagation, not precision; the
 * differential test covers precision).
 */
export function compareOutputs(a: Outputs, b: Outputs): string[] {
  const diffs: string[] = [];
  for (const [name, expected] of Object.entries(b)) {
    const actual = a[name];
    if (!actual || actual.length !== expected.length) {
      diffs.push(`${name}: missing or of another length`);
      continue;
    }
    for (let i = 0; i < expected.length; i++) {
      const [ca, cb] = [classOf(actual[i]), classOf(expected[i])];
      if (ca !== cb || (ca === 'finite' && Math.abs(actual[i] - expected[i]) > 1e-3 * (1 + Math.abs(expected[i])))) {
        diffs.push(`${name}[${i}]: ${actual[i]} vs ${expected[i]}`);
        break;
      }
    }
  }
  return diffs;
}

/**
 * The README's rules, checked on one result: which elements must be NaN (or ±Inf), and that
 * everything else is finite, i.e. that nothing spread beyond its channel (or element).
 */
export function ruleViolations(s: Scenario, inputs: Inputs, out: Outputs): string[] {
  const { channels, inner } = splitShape(s.shape, s.layout);
  const bad = new Set<number>(); // channels holding a planted value
  for (const p of s.plant) bad.add(p.array === 'gamma' || p.array === 'runningVar' || p.array === 'constant' ? p.index : channelOf(p.index, channels, inner));
  const problems: string[] = [];
  const expectEach = (name: string, predicate: (v: number, i: number) => boolean, what: string) => {
    const values = out[name];
    for (let i = 0; i < values.length; i++) {
      if (!predicate(values[i], i)) {
        problems.push(`${name}[${i}] = ${values[i]}: ${what}`);
        return;
      }
    }
  };
  const perChannel = (name: string, inBad: (v: number) => boolean, what: string) =>
    expectEach(name, (v, c) => (bad.has(c) ? inBad(v) : Number.isFinite(v)), what);
  const perElement = (name: string, inBad: (v: number, i: number) => boolean, what: string) =>
    expectEach(name, (v, i) => (bad.has(channelOf(i, channels, inner)) ? inBad(v, i) : Number.isFinite(v)), what);
  const planted = new Map(s.plant.filter((p) => p.array === 'x' || p.array === 'dy').map((p) => [`${p.array}:${p.index}`, p.value]));
  const statsBroken = s.plant.some((p) => p.array === 'x');
  if (s.eps === 0) {
    zeroVarianceRules(s, perChannel, perElement);
    return problems;
  }
  switch (s.op) {
    case 'train':
      if (statsBroken) {
        for (const name of ['mean', 'variance', 'invStd', 'runningMean', 'runningVar']) perChannel(name, Number.isNaN, 'a channel with a NaN or ±Inf has NaN statistics, others are finite');
      }
      perElement('y', Number.isNaN, 'every y of such a channel is NaN (relu keeps NaN), others are finite');
      break;
    case 'inference':
      if (s.plant.some((p) => p.array === 'runningVar')) perElement('y', Number.isNaN, 'a NaN running variance makes its channel NaN');
      else {
        perElement('y', (v, i) => {
          const x = planted.get(`x:${i}`);
          if (x === undefined) return Number.isFinite(v);
          if (Number.isNaN(x)) return Number.isNaN(v);
          return s.activation === 'relu' ? v === Infinity || v === 0 : !Number.isFinite(v) && !Number.isNaN(v);
        }, 'inference is elementwise: NaN stays NaN, ±Inf gives ±Inf (relu: −Inf gives 0)');
      }
      break;
    case 'backward-train':
      perElement('dx', Number.isNaN, 'in training a non-finite sum makes every dx of the channel NaN');
      if (s.plant.some((p) => p.array === 'dy')) perChannel('dbeta', Number.isNaN, 'dbeta = Σ dy is NaN when dy is not finite');
      else perChannel('dbeta', Number.isFinite, 'dbeta = Σ dy stays finite when only x is not');
      perChannel('dgamma', Number.isNaN, 'dgamma = Σ dy·x̂ is NaN');
      break;
    case 'backward-eval':
      perElement('dx', (v, i) => {
        const dy = planted.get(`dy:${i}`);
        if (s.activation === 'relu' && Number.isNaN(planted.get(`x:${i}`))) return v === 0;
        return dy === undefined ? Number.isFinite(v) : !Number.isFinite(v);
      }, 'in eval mode dx = γ·invStd·dy is elementwise (with relu a NaN forward output blocks dy: dx = 0 there)');
      perChannel('dgamma', Number.isNaN, 'dgamma is NaN');
      if (s.plant.some((p) => p.array === 'dy')) perChannel('dbeta', Number.isNaN, 'dbeta is NaN when dy is not finite');
      break;
    case 'statistics':
      perChannel('mean', Number.isNaN, 'mean NaN');
      perChannel('m2', Number.isNaN, 'M2 NaN');
      break;
  }
  return problems;
}

type Check = (name: string, inBad: (v: number) => boolean, what: string) => void;

/**
 * eps = 0 and a channel of zero variance (constant x in training, a running variance of 0 in eval):
 * invStd = 1/sqrt(0) = +Inf, so y = x·scale + shift with scale = γ·Inf is an infinity minus an
 * infinity (NaN) where x and the mean have one sign, ±Inf elsewhere; in training x is the mean, so
 * every y is NaN. The statistics themselves stay finite (mean, variance 0, running statistics).
 */
function zeroVarianceRules(s: Scenario, perChannel: Check, perElement: Check): void {
  const nonFinite = (v: number) => !Number.isFinite(v);
  switch (s.op) {
    case 'train':
      for (const name of ['mean', 'variance', 'runningMean', 'runningVar']) perChannel(name, Number.isFinite, 'zero variance: the statistics stay finite');
      perChannel('invStd', (v) => v === Infinity, 'invStd = 1/sqrt(0 + 0) = +Inf');
      perElement('y', Number.isNaN, 'every y of the channel is (x − mean)·Inf: NaN (relu keeps NaN)');
      break;
    case 'inference':
      perElement('y', nonFinite, 'y = x·(γ·Inf) + (β − mean·γ·Inf): NaN or ±Inf');
      break;
    case 'backward-train':
      perElement('dx', Number.isNaN, 'x̂ = 0·Inf is NaN, so dgamma and every dx of the channel are NaN');
      perChannel('dgamma', Number.isNaN, 'dgamma = Σ dy·x̂ is NaN');
      perChannel('dbeta', Number.isFinite, 'dbeta = Σ dy stays finite');
      break;
    case 'backward-eval':
      perElement('dx', nonFinite, 'dx = γ·Inf·dy is ±Inf (NaN where dy is 0)');
      perChannel('dgamma', Number.isNaN, 'dgamma = Σ dy·x̂ is NaN');
      perChannel('dbeta', Number.isFinite, 'dbeta = Σ dy stays finite');
      break;
    case 'statistics':
      break;
  }
}

type Engine = Pick<BatchNorm, 'forwardTrain' | 'forwardInference' | 'backward' | 'channelStatistics'>;

/**
 * The output of a training forward on the scenario's x normalized with `saved` (the statistics of
 * the clean data), in float64: a planted NaN gives NaN, which relu keeps.
 */
function forwardOutputWith(s: Scenario, inputs: Inputs, saved: ForwardTrainResult): Float32Array {
  const { channels, inner } = splitShape(s.shape, s.layout);
  return Float32Array.from(inputs.x, (x, i) => {
    const c = channelOf(i, channels, inner);
    const v = (x - saved.mean[c]) * saved.invStd[c] * inputs.gamma[c] + inputs.beta[c];
    return s.activation === 'relu' && v <= 0 ? 0 : v;
  });
}

/**
 * One scenario through the host-array API of `bn`. A training backward normalizes with `saved`,
 * statistics of the clean data, so that the planted value reaches the backward alone; with relu it
 * masks with the output that forward gives on the scenario's x (an eval backward with the output
 * of forwardInference).
 */
export async function runScenario(bn: Engine, s: Scenario, inputs: Inputs, saved: ForwardTrainResult): Promise<Outputs> {
  const { x, dy, gamma, beta, runningMean, runningVar } = inputs;
  const opts = { shape: s.shape, layout: s.layout, activation: s.activation, gamma, beta, eps: s.eps };
  const running = { runningMean, runningVar };
  switch (s.op) {
    case 'train': {
      const r = await bn.forwardTrain(x, { ...opts, ...running });
      return { y: r.y, mean: r.mean, variance: r.variance, invStd: r.invStd, runningMean: r.runningMean!, runningVar: r.runningVar! };
    }
    case 'inference':
      return { y: await bn.forwardInference(x, { ...opts, ...running }) };
    case 'backward-train':
    case 'backward-eval': {
      const mode = s.op === 'backward-train' ? 'train' : 'eval';
      const y = mode === 'train' ? forwardOutputWith(s, inputs, saved) : await bn.forwardInference(x, { ...opts, ...running });
      const r = await bn.backward(dy, x, { ...opts, ...running, mode }, mode === 'train' ? { mean: saved.mean, invStd: saved.invStd, y } : { y });
      return { dx: r.dx, dgamma: r.dgamma, dbeta: r.dbeta };
    }
    case 'statistics': {
      const r = await bn.channelStatistics(x, { shape: s.shape, layout: s.layout });
      return { mean: r.mean, m2: r.m2 };
    }
  }
}

/**
 * x with the planted values replaced by 0: the data whose statistics a training backward gets
 * (with the scenario's eps, see savedOptions).
 */
export function cleanX(s: Scenario, inputs: Inputs): Float32Array {
  const x = inputs.x.slice();
  for (const p of s.plant) if (p.array === 'x') x[p.index] = 0;
  return x;
}

/** The options of the training forward whose statistics a scenario's training backward gets. */
export function savedOptions(s: Scenario): { shape: number[]; layout: Scenario['layout']; eps?: number } {
  return { shape: s.shape, layout: s.layout, eps: s.eps };
}
