/**
 * The inputs of one benchmark case, shared by every implementation, and the reference the errors
 * are measured against.
 *
 * Every input is a stretch of one deterministic sequence per case (x, then dy for backward, then
 * gamma, beta and the running statistics), so any part of it can be regenerated on its own. When a
 * host implementation (cpu, TF.js) runs at the case's size, x and dy also exist as host arrays and
 * the reference is the library's CPU path (float64 accumulation). Above the host caps they are
 * generated straight into GPU buffers in chunks, and the outputs are checked against float64 values
 * streamed from the same sequence (see streamed-reference.ts): no tensor-sized host array exists.
 */
import { channelView, decodeFloat16, encodeFloat16Bits, type BatchNorm, type ChannelView, type SavedStatistics } from '../../src/index';
import { NORM_GROUPS } from '../lib/cases';
import { baseOp, hasResidual, normOf, type CaseSpec, type NormOpInfo } from '../lib/types';
import { generator, uniform, uniformInto } from './data';
import { streamStatistics, type StreamedStatistics } from './streamed-reference';

/** PyTorch's default, used by every implementation (TF.js gets it explicitly). */
export const EPS = 1e-5;

/** An input's values: draws [start, start + length) of the case's sequence, uniform in center ± spread. */
export interface Stream {
  start: number;
  length: number;
  center: number;
  spread: number;
}

export interface CaseData {
  spec: CaseSpec;
  view: ChannelView;
  /** Where x, dy (backward only) and the residual z (residual ops only) come from. */
  streams: { x: Stream; dy: Stream | undefined; z: Stream | undefined };
  /** Tensors' storage type: with float16, x, dy and z below are already rounded to float16 values. */
  dtype: 'float32' | 'float16';
  /** float16 cases: the float16 bits of x, dy and z, as the GPU buffers and the cpu row take them. */
  bits: { x: Uint16Array; dy: Uint16Array | undefined; z: Uint16Array | undefined } | undefined;
  /** Host copies of x and dy: only when a host implementation runs at this size. */
  x: Float32Array | undefined;
  dy: Float32Array | undefined;
  z: Float32Array | undefined;
  gamma: Float32Array;
  beta: Float32Array;
  runningMean: Float32Array;
  runningVar: Float32Array;
  /** Reference outputs by name (host cases); the first is the main output (y or dx). */
  reference: Record<string, Float32Array>;
  referenceSource: string;
  /** Backward: the batch statistics of the forward (from the CPU path), as `bn.backward` takes them. */
  saved: SavedStatistics | undefined;
  /** Norm backward: the statistics of the forward (from the CPU path), as `bn.norms.*Backward` takes them. */
  normSaved: NormSaved | undefined;
  /** Cases without host arrays: float64 statistics streamed from the sequence (see streamed-reference.ts). */
  streamed: StreamedStatistics | undefined;
}

/** Fills `out` with values [offset, offset + out.length) of `stream`. */
export function streamInto(seed: number, stream: Stream, offset: number, out: Float32Array): Float32Array {
  return uniformInto(generator(seed, stream.start + offset), out, stream.center, stream.spread);
}

/** The whole of `stream` as a host array. */
export function streamArray(seed: number, stream: Stream): Float32Array {
  return streamInto(seed, stream, 0, new Float32Array(stream.length));
}

/** The case's inputs; x and dy as host arrays only with `host`. */
export function makeCase(spec: CaseSpec, host = true): CaseData {
  const view = channelView(spec.shape, spec.layout);
  // γ and β: one per channel, but layer and RMS norm's are over the normalized (last) dim, whatever the layout.
  const norm = normOf(spec.op);
  const C = norm && norm.kind !== 'group' ? spec.shape[spec.shape.length - 1] : view.channels;
  const n = view.size;
  // Off-centre data (mean 3, std ≈ 1.2) so that a kernel which forgets the mean shows.
  const x: Stream = { start: 0, length: n, center: 3, spread: 2 };
  const dy: Stream | undefined = baseOp(spec.op) === 'backward' ? { start: n, length: n, center: 0, spread: 1 } : undefined;
  const z: Stream | undefined = hasResidual(spec.op) ? { start: dy ? 2 * n : n, length: n, center: 0, spread: 1 } : undefined;
  const random = generator(spec.seed, n * (1 + (dy ? 1 : 0) + (z ? 1 : 0)));
  const dtype = spec.dtype ?? 'float32';
  if (dtype === 'float16' && !host) throw new Error('float16 cases need host arrays (the streamed reference reads float32 inputs)');
  const hostX = host ? streamArray(spec.seed, x) : undefined;
  const hostDy = host && dy ? streamArray(spec.seed, dy) : undefined;
  const hostZ = host && z ? streamArray(spec.seed, z) : undefined;
  // float16: the inputs rounded once, so that the reference sees exactly the values the GPU reads.
  const bitsOf = (values: Float32Array | undefined) => (values ? encodeFloat16Bits(values) : undefined);
  const bits = dtype === 'float16' ? { x: bitsOf(hostX) as Uint16Array, dy: bitsOf(hostDy), z: bitsOf(hostZ) } : undefined;
  const valuesOf = (b: Uint16Array | undefined, values: Float32Array | undefined) => (b ? decodeFloat16(b) : values);
  return {
    spec,
    view,
    streams: { x, dy, z },
    dtype,
    bits,
    x: valuesOf(bits?.x, hostX),
    dy: valuesOf(bits?.dy, hostDy),
    z: valuesOf(bits?.z, hostZ),
    gamma: uniform(random, C, 1, 0.5),
    beta: uniform(random, C, 0, 1),
    runningMean: uniform(random, C, 3, 0.5),
    runningVar: uniform(random, C, 1.3, 0.3),
    reference: {},
    referenceSource: '',
    saved: undefined,
    normSaved: undefined,
    streamed: undefined,
  };
}

/** x of a host case (cpu and TF.js run only where the runner asked for host arrays). */
export function hostX(data: CaseData): Float32Array {
  if (!data.x) throw new Error('this case has no host arrays (above the host implementations\' size caps)');
  return data.x;
}

/** Host-array options of the library for this case. */
export function libraryOptions(data: CaseData) {
  return {
    residual: data.z,
    shape: data.spec.shape,
    layout: data.spec.layout,
    gamma: data.gamma,
    beta: data.beta,
    eps: EPS,
    runningMean: data.runningMean,
    runningVar: data.runningVar,
  };
}

/**
 * The options of a norm case's calls but γ and β, which the host-array calls (`bn.norms.*`) take as
 * arrays and the resident ones as buffers: layer and RMS norm over the last dim, group norm in
 * NORM_GROUPS groups, eps as every implementation's.
 */
export function normCallOptions(data: CaseData, norm: NormOpInfo) {
  const base = { shape: data.spec.shape, eps: EPS };
  return norm.kind === 'group' ? { ...base, groups: NORM_GROUPS, layout: data.spec.layout } : base;
}

/** The host-array options of a norm case: γ of the case, and β but for RMS norm, which has none. */
export function normOptions(data: CaseData, norm: NormOpInfo) {
  const options = { ...normCallOptions(data, norm), gamma: data.gamma };
  return norm.kind === 'rms' ? options : { ...options, beta: data.beta };
}

/** A norm forward's saved statistics (RMS norm: invStd only), as the norm backward calls take them. */
export type NormSaved = { mean?: Float32Array; invStd: Float32Array };

/**
 * A norm op's host-array call on `cpu` (`bn.norms.*`): the forward, or the backward from the
 * forward's statistics `saved`. Returns the outputs by name, the main one (y or dx) first.
 */
export async function runNorm(cpu: BatchNorm, data: CaseData, norm: NormOpInfo, x: Float32Array, saved?: NormSaved): Promise<Record<string, Float32Array>> {
  const n = cpu.norms;
  const dy = data.dy as Float32Array;
  if (norm.kind === 'rms') {
    const opts = normOptions(data, norm) as Parameters<BatchNorm['norms']['rmsNorm']>[1];
    if (!norm.backward) {
      const forward = await n.rmsNorm(x, opts);
      return { y: forward.y, invStd: forward.invStd };
    }
    const grads = await n.rmsNormBackward(dy, x, opts, saved as NormSaved);
    return { dx: grads.dx, dgamma: grads.dgamma };
  }
  const opts = normOptions(data, norm) as Parameters<BatchNorm['norms']['groupNorm']>[1];
  if (!norm.backward) {
    const forward = norm.kind === 'layer' ? await n.layerNorm(x, opts) : await n.groupNorm(x, opts);
    return { y: forward.y, mean: forward.mean, invStd: forward.invStd };
  }
  const stats = saved as Required<NormSaved>;
  const grads = norm.kind === 'layer' ? await n.layerNormBackward(dy, x, opts, stats) : await n.groupNormBackward(dy, x, opts, stats);
  return { dx: grads.dx, dgamma: grads.dgamma, dbeta: grads.dbeta };
}

function referenceSource(data: CaseData): string {
  return data.dtype === 'float16' ? 'library CPU path (float64 accumulation) on the float16 inputs decoded, outputs not rounded' : 'library CPU path (float64 accumulation)';
}

/** Fills data.reference, or data.streamed for a case without host arrays (untimed). */
export async function computeReference(data: CaseData, cpu: BatchNorm): Promise<void> {
  if (!data.x) {
    data.streamed = streamStatistics(data, EPS);
    data.referenceSource =
      'float64 values from per-channel float64 statistics of x (and dy) regenerated from the inputs\' deterministic sequence; every output element checked';
    return;
  }
  const norm = normOf(data.spec.op);
  if (norm) {
    // The backward's saved statistics are the CPU path's forward's (the cpu row times the backward alone).
    if (norm.backward) {
      const forward = await runNorm(cpu, data, { ...norm, backward: false }, data.x);
      data.normSaved = { mean: forward.mean, invStd: forward.invStd };
    }
    data.reference = await runNorm(cpu, data, norm, data.x, data.normSaved);
    data.referenceSource = referenceSource(data);
    return;
  }
  const opts = libraryOptions(data);
  switch (baseOp(data.spec.op)) {
    case 'forward-train': {
      const out = await cpu.forwardTrain(data.x, opts);
      data.reference = { y: out.y, mean: out.mean, variance: out.variance };
      data.referenceSource = referenceSource(data);
      return;
    }
    case 'inference':
      data.reference = { y: await cpu.forwardInference(data.x, opts) };
      data.referenceSource = referenceSource(data);
      return;
    case 'backward': {
      const dy = data.dy as Float32Array;
      const forward = await cpu.forwardTrain(data.x, { ...opts, runningMean: undefined, runningVar: undefined });
      data.saved = { mean: forward.mean, invStd: forward.invStd };
      // The forward's residual does not change dx without an activation; dz is dy.
      const out = await cpu.backward(dy, data.x, { ...opts, residual: undefined }, data.saved);
      data.reference = { dx: out.dx, dgamma: out.dgamma, dbeta: out.dbeta, ...(data.z ? { dz: dy } : {}) };
      data.referenceSource = referenceSource(data);
    }
  }
}
