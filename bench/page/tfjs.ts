/**
 * TensorFlow.js 4.22 on its WebGPU and CPU backends, timed like ours: warmed up, same shapes and
 * data, K calls then one synchronisation on a 1-element slice of each output (no large readback in
 * the timed region). What each op runs:
 *
 * - forward-train: `tf.moments(x, axes)` + `tf.batchNorm(x, mean, variance, beta, gamma, eps)`.
 * - inference: `tf.batchNorm` with the running statistics.
 * - the norm ops (layer, RMS, group norm): composed from TF.js ops, which has none of them (normModel).
 * - backward: `tf.grads` of the forward-train function, with dy. That call also runs the forward
 *   (TF.js computes it while recording the tape), so the row reports the gradient time minus the
 *   forward-train time: this run's forward-train row of the same shape and formula when there is
 *   one, else timed beside it. Both times are kept in `extra`.
 *
 * tf.batchNorm is used wherever TF.js gets it right. Where it does not, the same formula is
 * written with broadcasting element-wise ops instead, and the row's `timed` says so:
 * - the CPU backend's kernel broadcasts the statistics along the last axis only (wrong for
 *   channel-first layouts);
 * - its gradient fails for statistics shaped [1, C, 1, 1] ("Size(…) must match the product of
 *   shape 1,C,1,1"), so channel-first backward uses the element-wise form on both backends;
 * - rank 5 is not a shape tf.batchNorm takes.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { channelAxis } from '../../src/index';
import { NORM_GROUPS } from '../lib/cases';
import { baseOp, normOf, type Impl, type MeasuredRow, type NormOpInfo, type PageResult, type TimingPlan } from '../lib/types';
import { EPS, hostX, type CaseData } from './case-data';
import { maxAbsDiff } from './data';
import { summarize, timeHost } from './timing';

type Backend = 'webgpu' | 'cpu';

export const tfjsVersion = tf.version.tfjs;

export async function useBackend(backend: Backend): Promise<void> {
  if (tf.getBackend() === backend) return;
  const ok = await tf.setBackend(backend);
  if (!ok) throw new Error(`tf.setBackend('${backend}') failed`);
  await tf.ready();
}

interface Model {
  /** The op's outputs for the timed call; the first one is the main output. */
  call(): tf.Tensor[];
  what: string;
  names: string[];
}

function model(data: CaseData, backend: Backend, op: 'forward-train' | 'inference' | 'backward' | 'forward-for-backward'): { model: Model; inputs: tf.Tensor[] } {
  const { shape, layout } = data.spec;
  const rank = shape.length;
  const axis = channelAxis(layout);
  const channelLast = axis === rank - 1;
  const C = data.view.channels;
  const paramShape = channelLast ? [C] : shape.map((d, i) => (i === axis ? C : 1));
  const axes = shape.map((_, i) => i).filter((i) => i !== axis);
  const differentiated = op === 'backward' || op === 'forward-for-backward';
  const useBatchNorm = rank <= 4 && (channelLast || (backend === 'webgpu' && !differentiated));
  const x = tf.tensor(hostX(data), shape);
  const gamma = tf.tensor(data.gamma, paramShape);
  const beta = tf.tensor(data.beta, paramShape);
  const inputs: tf.Tensor[] = [x, gamma, beta];
  const normalize = (xs: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor =>
    useBatchNorm
      ? tf.batchNorm(xs, mean as tf.Tensor1D, variance as tf.Tensor1D, b as tf.Tensor1D, g as tf.Tensor1D, EPS)
      : tf.add(tf.mul(tf.sub(xs, mean), tf.mul(g, tf.rsqrt(tf.add(variance, EPS)))), b);
  const normalizeWhat = useBatchNorm ? 'tf.batchNorm' : 'broadcast (x − mean)·gamma·rsqrt(var + eps) + beta';
  const forward = (xs: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor => {
    const { mean, variance } = tf.moments(xs, axes, !channelLast);
    return normalize(xs, mean, variance, g, b);
  };
  if (op === 'forward-train' || op === 'forward-for-backward') {
    return {
      inputs,
      model: {
        what: `tf.moments + ${normalizeWhat}`,
        names: ['y'],
        call: () => [forward(x, gamma, beta)],
      },
    };
  }
  if (op === 'inference') {
    const mean = tf.tensor(data.runningMean, paramShape);
    const variance = tf.tensor(data.runningVar, paramShape);
    inputs.push(mean, variance);
    return { inputs, model: { what: normalizeWhat, names: ['y'], call: () => [normalize(x, mean, variance, gamma, beta)] } };
  }
  const dy = tf.tensor(data.dy as Float32Array, shape);
  inputs.push(dy);
  const grads = tf.grads((xs, g, b) => forward(xs, g, b));
  return {
    inputs,
    model: {
      what: `tf.grads of (tf.moments + ${normalizeWhat}) with dy`,
      names: ['dx', 'dgamma', 'dbeta'],
      call: () => grads([x, gamma, beta], dy),
    },
  };
}

/**
 * The norm ops composed from TF.js ops, as a TF.js user writes them (TF.js has no layer, RMS or
 * group norm op): statistics per row by `tf.moments` (RMS norm: `tf.mean` of x²) over the row's
 * axes with keepDims, then broadcasting arithmetic; group norm reshapes x to [N, G, rest] for its
 * statistics. Backward: `tf.grads` of that forward with dy (x, γ and β; RMS norm: x and γ).
 */
function normModel(data: CaseData, norm: NormOpInfo): { model: Model; inputs: tf.Tensor[] } {
  const { shape } = data.spec;
  const rank = shape.length;
  const C = data.gamma.length;
  // γ and β broadcast along the normalized dim (layer, RMS: the last) or the channel axis (group: 1).
  const paramShape = norm.kind === 'group' ? shape.map((d, i) => (i === 1 ? C : 1)) : [C];
  const x = tf.tensor(hostX(data), shape);
  const gamma = tf.tensor(data.gamma, paramShape);
  const beta = tf.tensor(data.beta, paramShape);
  const inputs: tf.Tensor[] = [x, gamma, beta];
  const eps = EPS;
  let forward: (xs: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor;
  let what: string;
  if (norm.kind === 'layer') {
    what = 'tf.moments over the last axis + (x − mean)·rsqrt(var + eps)·gamma + beta';
    forward = (xs, g, b) => {
      const { mean, variance } = tf.moments(xs, rank - 1, true);
      return tf.add(tf.mul(tf.mul(tf.sub(xs, mean), tf.rsqrt(tf.add(variance, eps))), g), b);
    };
  } else if (norm.kind === 'rms') {
    what = 'tf.mean(x²) over the last axis + x·rsqrt(mean + eps)·gamma';
    forward = (xs, g) => tf.mul(tf.mul(xs, tf.rsqrt(tf.add(tf.mean(tf.square(xs), rank - 1, true), eps))), g);
  } else {
    what = `tf.reshape to [N, ${NORM_GROUPS}, C/${NORM_GROUPS}·spatial] + tf.moments over the last axis + (x − mean)·rsqrt(var + eps), reshaped back, ·gamma + beta`;
    forward = (xs, g, b) => {
      const grouped = tf.reshape(xs, [shape[0], NORM_GROUPS, -1]);
      const { mean, variance } = tf.moments(grouped, 2, true);
      const normalized = tf.reshape(tf.mul(tf.sub(grouped, mean), tf.rsqrt(tf.add(variance, eps))), shape);
      return tf.add(tf.mul(normalized, g), b);
    };
  }
  if (!norm.backward) return { inputs, model: { what, names: ['y'], call: () => [forward(x, gamma, beta)] } };
  const dy = tf.tensor(data.dy as Float32Array, shape);
  inputs.push(dy);
  if (norm.kind === 'rms') {
    const grads = tf.grads((xs, g) => forward(xs, g, beta));
    return { inputs, model: { what: `tf.grads of (${what}) with dy`, names: ['dx', 'dgamma'], call: () => grads([x, gamma], dy) } };
  }
  const grads = tf.grads((xs, g, b) => forward(xs, g, b));
  return { inputs, model: { what: `tf.grads of (${what}) with dy`, names: ['dx', 'dgamma', 'dbeta'], call: () => grads([x, gamma, beta], dy) } };
}

/** The op's model, or the forward whose time a backward row subtracts (see measureTfjs). */
function modelOf(data: CaseData, backend: Backend, which: 'op' | 'forward-for-backward'): { model: Model; inputs: tf.Tensor[] } {
  const norm = normOf(data.spec.op);
  if (norm) return normModel(data, which === 'op' ? norm : { ...norm, backward: false });
  return model(data, backend, which === 'op' ? (baseOp(data.spec.op) as 'forward-train' | 'inference' | 'backward') : 'forward-for-backward');
}

/** Waits for the outputs by reading one element of each (one small readback). */
async function sync(outputs: tf.Tensor[]): Promise<void> {
  const probe = tf.tidy(() => tf.concat(outputs.map((t) => tf.slice(tf.reshape(t, [-1]), [0], [1]))));
  await probe.data();
  probe.dispose();
}

/**
 * Times `m`; the outputs of the last call are kept (each call frees those of the one before it,
 * so every call pays the same) and returned for the error check, which then costs no extra call.
 */
async function timeModel(m: Model, plan: TimingPlan) {
  let last: tf.Tensor[] = [];
  const stats = summarize(
    await timeHost(async (wait) => {
      const outputs = tf.tidy(() => m.call());
      tf.dispose(last);
      last = outputs;
      if (wait) await sync(outputs);
    }, plan),
  );
  return { stats, outputs: last };
}

/** Forward-train times of this run, by backend, layout, shape and formula (see backward). */
const forwardTimes = new Map<string, Awaited<ReturnType<typeof timeModel>>['stats']>();
const forwardKey = (data: CaseData, backend: Backend, what: string) => `${backend}|${data.spec.layout}|${data.spec.shape.join('x')}|${what}`;

export async function measureTfjs(data: CaseData, backend: Backend, plan: TimingPlan): Promise<PageResult> {
  const impl: Impl = backend === 'webgpu' ? 'tfjs-webgpu' : 'tfjs-cpu';
  try {
    await useBackend(backend);
  } catch (error) {
    return { rows: [], missing: [{ impl, reason: `TF.js ${backend} backend unavailable: ${String((error as Error).message ?? error)}` }] };
  }
  const op = data.spec.op;
  if (op === 'forward-train-residual' || op === 'backward-residual') return { rows: [], missing: [{ impl, reason: 'TF.js has no fused residual add (not run)' }] };
  const { model: m, inputs } = modelOf(data, backend, 'op');
  const kind = baseOp(op);
  const owned: tf.Tensor[] = [...inputs];
  try {
    const { stats, outputs } = await timeModel(m, plan);
    owned.push(...outputs);
    let row: MeasuredRow = {
      impl,
      ...stats,
      timer: 'wall-clock',
      timed: `wall clock of ${m.what} on the ${backend} backend (K calls, then a 1-element read of each output), per call`,
    };
    if (kind === 'forward-train') forwardTimes.set(forwardKey(data, backend, m.what), stats);
    if (kind === 'backward') {
      // tf.grads runs the forward too: subtract the forward-train time, from this run's
      // forward-train row of the same shape and formula when there is one, else timed here.
      const { model: fwd, inputs: fwdInputs } = modelOf(data, backend, 'forward-for-backward');
      owned.push(...fwdInputs);
      const key = forwardKey(data, backend, fwd.what);
      let forward = forwardTimes.get(key);
      if (!forward) {
        const timed = await timeModel(fwd, plan);
        tf.dispose(timed.outputs);
        forward = timed.stats;
        forwardTimes.set(key, forward);
      }
      // When the forward alone takes nearly as long as tf.grads (noise, or a forward formula that
      // differs from what the tape records), the difference means nothing: report tf.grads whole.
      const measurable = stats.ms - forward.ms > 0.05 * stats.ms;
      const minus = measurable ? forward : { ms: 0, wallMs: 0 };
      row = {
        ...row,
        ms: stats.ms - minus.ms,
        msMin: Math.max(stats.msMin - minus.ms, 0),
        msMax: Math.max(stats.msMax - minus.ms, 0),
        wallMs: Math.max(stats.wallMs - minus.wallMs, 0),
        timed: measurable
          ? `wall clock of ${m.what} on the ${backend} backend (K calls, then a 1-element read of each output) minus that of the forward-train alone (${fwd.what}) in this run, per call`
          : `wall clock of ${m.what} on the ${backend} backend (K calls, then a 1-element read of each output), forward included: the forward alone (${fwd.what}) took within 5% as long, so no difference is reported`,
        extra: { gradsMs: stats.ms, forwardMs: forward.ms },
      };
    }
    // Correctness of the last timed call's outputs, read after timing.
    const errors: Record<string, number> = {};
    for (let i = 0; i < outputs.length; i++) {
      const name = m.names[i];
      errors[name] = maxAbsDiff((await outputs[i].data()) as Float32Array, data.reference[name]);
    }
    row = { ...row, maxAbsErr: errors[m.names[0]], errors, reference: data.referenceSource };
    return { rows: [row], missing: [] };
  } catch (error) {
    return { rows: [], missing: [{ impl, reason: `failed: ${String((error as Error).message ?? error)}` }] };
  } finally {
    tf.dispose(owned);
  }
}

export function tfjsMemory(): { numTensors: number; numBytes: number } {
  const { numTensors, numBytes } = tf.memory();
  return { numTensors, numBytes };
}
