/**
 * One case of layer, RMS, group or instance norm on the GPU, run inside the page: seeded inputs;
 * forward and backward on the GPU-resident path with every output poisoned (NaN), so an element a
 * kernel skips shows; the same on the host-array path (GpuBatchNorm.norms); every result against
 * the float64 reference (test/support/norm-reference.ts) with the tolerances of
 * test/support/norm-tolerances.ts.
 */
import type { KernelTuning } from '../../../src/advanced';
import { runningUpdate } from '../../../src/conventions';
import type { Convention } from '../../../src/types';
import type { NormActivation, NormKind, NormView, ResolvedNormBackwardOptions, ResolvedNormOptions } from '../../../src/norms/norm-types';
import { engineFor, type CaseDevice } from './case-engines';
import { check, type OutputCheck } from '../../support/forward-checks';
import { caseSeed, createRng, normals } from '../../support/random';
import { referenceNormBackward, referenceNormForward, referenceNormView, type ReferenceNormParams } from '../../support/norm-reference';
import { EPS32 } from '../../support/tolerances';
import { NORM_ATOL } from '../../support/norm-tolerances';
import { readBuffer, storageBuffer } from './gpu-buffers';
import { countDispatches } from './dispatch-counter';
import { gpuBackwardBounds, gpuForwardBounds } from './norm-gpu-bounds';

export interface NormCase {
  name: string;
  seed: number;
  kind: NormKind;
  shape: number[];
  /** layer / RMS: trailing dims normalized (default 1). */
  normalized?: number;
  /** group norm's G. */
  groups?: number;
  /** Group and instance norm: `shape` is channels last, (N, …, C) (layout NLC, NHWC or NDHWC). */
  channelsLast?: boolean;
  activation: NormActivation;
  residual?: boolean;
  /** x drawn around this (default 0) ± std (default 1). */
  mean?: number;
  std?: number;
  /** γ and β drawn (default), or omitted (γ = 1, β = 0). */
  affine?: boolean;
  eps?: number;
  tuning?: Partial<KernelTuning>;
  device?: CaseDevice;
  /**
   * false for a tensor above one storage binding: the forward takes it in slabs, the backward (which
   * binds each tensor whole) must refuse it with 'too-large' before any GPU work.
   */
  backward?: boolean;
  /**
   * Instance norm with running statistics: 'train' (y as without them; their updated copies checked
   * against the float64 update) or 'eval' (y and dx through them as constants: the host-array path
   * only, the resident calls taking no running statistics).
   */
  running?: 'train' | 'eval';
  /** The running update's convention (default 'pytorch'). */
  convention?: Convention;
}

export interface NormReport {
  checks: OutputCheck[];
  inputsUnmodified: boolean;
  /** dispatchCount of the call, forward and backward (0: no backward). */
  dispatches: { forward: number; backward: number };
  /** The dispatches the host-array calls really encoded. */
  recorded: { forward: number; backward: number };
  /** Whether the tensor exceeded one binding (the forward's slabs ran). */
  forwardSlabs: boolean;
  /** The backward's refusal of a tensor above one binding (backward: false): its error code. */
  backwardRefusal?: string;
  /** backward: false: whether the host-array backward handed the call to the CPU path (undefined). */
  hostBackwardOnCpu?: boolean;
}

/** The row view the host-array API's resolver builds (norm-types.ts), from the reference's. */
function normView(spec: NormCase): NormView {
  const { channelsLast, ...v } = referenceNormView(spec.kind, spec.shape, { normalized: spec.normalized, groups: spec.groups, channelsLast: spec.channelsLast });
  const size = v.outer * v.params * v.inner;
  const view: NormView = { ...v, size, rows: v.outer * v.groups, rowLength: (v.params / v.groups) * v.inner };
  // The resolver flags only views whose memory differs from channels first.
  if (channelsLast && v.inner > 1 && v.params > 1) view.channelsLast = true;
  return view;
}

export async function runNormCase(spec: NormCase): Promise<NormReport> {
  const view = normView(spec);
  const { size, params, rows } = view;
  const rng = createRng(caseSeed(spec.seed, spec.name));
  const x = normals(rng, size, spec.mean ?? 0, spec.std ?? 1);
  const affine = spec.affine ?? true;
  const gamma = affine ? normals(rng, params, 1, 0.5) : undefined;
  const beta = affine && spec.kind !== 'rms' ? normals(rng, params, 0, 0.5) : undefined;
  const residual = spec.residual ? normals(rng, size, 0, 1) : undefined;
  const dy = normals(rng, size, 0, 1);
  const running = spec.running
    ? { runningMean: normals(rng, params, spec.mean ?? 0, 1), runningVar: Float32Array.from(normals(rng, params), (v) => 0.5 + Math.abs(v)), momentum: 0.3, training: spec.running === 'train' }
    : undefined;
  const frozen = spec.running === 'eval';
  const copies = [x, gamma, beta, residual, dy, running?.runningMean, running?.runningVar].map((a) => a?.slice());
  const eps = spec.eps ?? (spec.kind === 'rms' ? 2 ** -23 : 1e-5);
  const convention = spec.convention ?? 'pytorch';
  const resolved: ResolvedNormOptions = { kind: spec.kind, shape: spec.shape, view, gamma, beta, eps, convention, activation: spec.activation, residual, running };
  const reference: ReferenceNormParams = { kind: spec.kind, view: { outer: view.outer, params, inner: view.inner, groups: view.groups, channelsLast: view.channelsLast }, gamma, beta, eps, activation: spec.activation, residual };

  const bn = await engineFor(spec.tuning, spec.device);
  const gpu = bn.gpu!;
  const norms = gpu.norms;
  const device = gpu.device;
  const call = { kind: spec.kind, view, eps, activation: spec.activation };
  const checks: OutputCheck[] = [];

  // Forward, GPU-resident, outputs poisoned.
  const poisoned = (n: number) => new Float32Array(n).fill(NaN);
  const buffers = {
    x: storageBuffer(device, 'norm.x', x),
    y: storageBuffer(device, 'norm.y', poisoned(size)),
    stats: storageBuffer(device, 'norm.stats', poisoned(5 * rows)),
    gamma: gamma && storageBuffer(device, 'norm.gamma', gamma),
    beta: beta && storageBuffer(device, 'norm.beta', beta),
    residual: residual && storageBuffer(device, 'norm.residual', residual),
  };
  let encoder = device.createCommandEncoder({ label: 'test.norm.forward' });
  // The resident calls take no running statistics: in 'eval' they compute the training forward,
  // whose statistics the reference below does not use (only the host path's y is checked then).
  norms.encodeForward(encoder, { ...call, ...buffers });
  device.queue.submit([encoder.finish()]);
  const residentY = await readBuffer(device, buffers.y, size);
  const residentStats = await readBuffer(device, buffers.stats, 5 * rows);
  const resident = { y: residentY, mean: residentStats.slice(0, rows), invStd: residentStats.slice(2 * rows, 3 * rows) };
  const { result: hostForward, dispatches: forwardRecorded } = await countDispatches(() => norms.forwardOf(x, resolved));
  if (!hostForward) throw new Error('forwardOf sent the call to the CPU path');
  const recorded = { forward: forwardRecorded, backward: 0 };
  const host = hostForward;

  // Forward against the float64 reference (in 'eval', normalized by each row's channel's running statistics).
  const runningRows = running && { mean: Float64Array.from({ length: rows }, (_, r) => running.runningMean[r % params]), variance: Float64Array.from({ length: rows }, (_, r) => running.runningVar[r % params]) };
  const ref = referenceNormForward(x, reference, frozen ? runningRows : undefined);
  const boundInputs = { kind: spec.kind, view, x, gamma, beta, residual, eps, activation: spec.activation, frozen };
  const forwardBounds = gpuForwardBounds(boundInputs, ref, gpu);
  const forwardPaths = frozen ? ([['host', host]] as const) : ([['resident', resident], ['host', host]] as const);
  for (const [path, out] of forwardPaths) {
    checks.push(check('y', path, out.y, ref.y, forwardBounds.y));
    checks.push(check('invStd', path, out.invStd, ref.invStd, forwardBounds.invStd));
    if (spec.kind !== 'rms') checks.push(check('mean', path, out.mean!, ref.mean, forwardBounds.mean));
    else checks.push({ output: 'mean', path, failure: out.mean === undefined || path === 'resident' ? null : `${path}: RMS norm returned a mean`, maxAbs: 0, maxRel: 0, used: 0 });
  }

  if (running) checks.push(...runningChecks(host, running, convention, view, ref, forwardBounds.meanError, forwardBounds.varianceError));

  const forwardSlabs = size * 4 > Math.min(device.limits.maxStorageBufferBindingSize, spec.tuning?.maxBindingBytes ?? Infinity);
  const dispatches = { forward: norms.dispatchCount('forward', resolved), backward: 0 };
  if (spec.backward === false) {
    let backwardRefusal = 'none';
    try {
      encoder = device.createCommandEncoder({ label: 'test.norm.backward' });
      const dx = storageBuffer(device, 'norm.dx', poisoned(size));
      norms.encodeBackward(encoder, { ...call, x: buffers.x, dy: buffers.x, stats: buffers.stats, y: buffers.y, residual: buffers.residual, dx });
      dx.destroy();
    } catch (error) {
      backwardRefusal = (error as { code?: string }).code ?? String(error);
    }
    // The host-array call of the same backward is handed to the CPU path (undefined), not refused.
    const smoothRefused = spec.activation !== 'none' && spec.activation !== 'relu';
    const refusedOptions: ResolvedNormBackwardOptions = { ...resolved, residual: residual ? (smoothRefused ? residual : true) : undefined };
    const hostBackward = await norms.backwardOf(dy, x, refusedOptions, { mean: spec.kind === 'rms' ? undefined : resident.mean, invStd: resident.invStd, y: residentY });
    await gpu.checkErrors();
    for (const buffer of Object.values(buffers)) buffer?.destroy();
    const inputsUnmodified = [x, gamma, beta, residual].every((a, k) => a === undefined || a.every((v, i) => Object.is(v, copies[k]![i])));
    return { checks, inputsUnmodified, dispatches, recorded, forwardSlabs, backwardRefusal, hostBackwardOnCpu: hostBackward === undefined };
  }
  dispatches.backward = norms.dispatchCount('backward', resolved);

  // Backward on the resident forward's outputs: its statistics (and y for relu's mask), which the
  // reference takes too. Through frozen running statistics ('eval'): the host-array call only (the
  // resident calls take none), on the host forward's.
  const forwardOut = frozen ? host : resident;
  const savedMean = spec.kind === 'rms' ? undefined : forwardOut.mean;
  const savedInvStd = forwardOut.invStd;
  const savedY = forwardOut.y;
  const back = {
    dy: storageBuffer(device, 'norm.dy', dy),
    dx: storageBuffer(device, 'norm.dx', poisoned(size)),
    dgamma: storageBuffer(device, 'norm.dgamma', poisoned(params)),
    dbeta: spec.kind === 'rms' ? undefined : storageBuffer(device, 'norm.dbeta', poisoned(params)),
    dz: residual ? storageBuffer(device, 'norm.dz', poisoned(size)) : undefined,
  };
  encoder = device.createCommandEncoder({ label: 'test.norm.backward' });
  norms.encodeBackward(encoder, { ...call, x: buffers.x, stats: buffers.stats, gamma: buffers.gamma, beta: buffers.beta, y: spec.activation === 'relu' ? buffers.y : undefined, residual: buffers.residual, ...back });
  device.queue.submit([encoder.finish()]);
  const residentBack = frozen ? undefined : {
    dx: await readBuffer(device, back.dx, size),
    dgamma: await readBuffer(device, back.dgamma, params),
    dbeta: back.dbeta && (await readBuffer(device, back.dbeta, params)),
    dz: back.dz && (await readBuffer(device, back.dz, size)),
  };
  const smooth = spec.activation !== 'none' && spec.activation !== 'relu';
  const backwardOptions: ResolvedNormBackwardOptions = { ...resolved, residual: residual ? (smooth ? residual : true) : undefined };
  const { result: hostRun, dispatches: backwardRecorded } = await countDispatches(() => norms.backwardOf(dy, x, backwardOptions, { mean: savedMean, invStd: savedInvStd, y: spec.activation === 'relu' ? savedY : undefined }));
  recorded.backward = backwardRecorded;
  if (!hostRun) throw new Error('backwardOf sent a tensor within one binding to the CPU path');
  const hostBack = hostRun;
  await gpu.checkErrors();

  const refBack = referenceNormBackward(dy, x, { ...reference, frozen }, { mean: savedMean, invStd: savedInvStd }, savedY);
  const backwardBounds = gpuBackwardBounds(boundInputs, dy, { mean: savedMean, invStd: savedInvStd }, refBack, gpu);
  const backwardPaths = residentBack ? ([['resident', residentBack], ['host', hostBack]] as const) : ([['host', hostBack]] as const);
  for (const [path, out] of backwardPaths) {
    checks.push(check('dx', path, out.dx, refBack.dx, backwardBounds.dx));
    checks.push(check('dgamma', path, out.dgamma, refBack.dgamma, backwardBounds.dgamma));
    if (spec.kind !== 'rms') checks.push(check('dbeta', path, out.dbeta!, refBack.dbeta, backwardBounds.dbeta));
    else checks.push({ output: 'dbeta', path, failure: out.dbeta === undefined ? null : `${path}: RMS norm returned dbeta`, maxAbs: 0, maxRel: 0, used: 0 });
    if (residual) checks.push(check('dz', path, out.dz!, refBack.dz, backwardBounds.dz));
  }

  for (const buffer of [...Object.values(buffers), ...Object.values(back)]) buffer?.destroy();
  const inputsUnmodified = [x, gamma, beta, residual, dy, running?.runningMean, running?.runningVar].every((a, k) => a === undefined || a.every((v, i) => Object.is(v, copies[k]![i])));
  return { checks, inputsUnmodified, dispatches, recorded, forwardSlabs };
}

/**
 * The host-array forward's running statistics: in training, keep·running + take·mean over N of the
 * rows' statistics (variance times the convention's factor), whose GPU errors (meanError,
 * varianceError per row) pass through with weight take (and the factor), plus the float32 rounding
 * of the result and of its two terms; in inference, the given values, bit for bit.
 */
function runningChecks(
  host: { runningMean?: Float32Array; runningVar?: Float32Array },
  running: { runningMean: Float32Array; runningVar: Float32Array; momentum: number; training: boolean },
  convention: Convention,
  view: NormView,
  ref: { mean: Float64Array; variance: Float64Array },
  meanError: Float64Array,
  varianceError: Float64Array,
): OutputCheck[] {
  const { outer: N, params: C } = view;
  if (!host.runningMean || !host.runningVar) return [{ output: 'running', path: 'host', failure: 'host: no running statistics returned', maxAbs: 0, maxRel: 0, used: 0 }];
  if (!running.training) {
    const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, c) => Object.is(v, b[c]));
    const failure = same(host.runningMean, running.runningMean) && same(host.runningVar, running.runningVar) ? null : 'host: inference changed the running statistics';
    return [{ output: 'running', path: 'host', failure, maxAbs: 0, maxRel: 0, used: 0 }];
  }
  const { keep, take, varianceFactor } = runningUpdate(convention, running.momentum, view.rowLength);
  const expected = { mean: new Float64Array(C), variance: new Float64Array(C) };
  const bound = { mean: new Float64Array(C), variance: new Float64Array(C) };
  for (let c = 0; c < C; c++) {
    let m = 0;
    let v = 0;
    let dm = 0;
    let dv = 0;
    for (let n = 0; n < N; n++) {
      m += ref.mean[n * C + c] / N;
      v += (ref.variance[n * C + c] * varianceFactor) / N;
      dm = Math.max(dm, meanError[n * C + c]);
      dv = Math.max(dv, varianceError[n * C + c] * varianceFactor);
    }
    expected.mean[c] = keep * running.runningMean[c] + take * m;
    expected.variance[c] = keep * running.runningVar[c] + take * v;
    bound.mean[c] = take * dm + 2 * EPS32 * (Math.abs(keep * running.runningMean[c]) + Math.abs(take * m)) + NORM_ATOL * EPS32;
    bound.variance[c] = take * dv + 2 * EPS32 * (Math.abs(keep * running.runningVar[c]) + Math.abs(take * v));
  }
  return [check('runningMean', 'host', host.runningMean, expected.mean, (c) => bound.mean[c]), check('runningVar', 'host', host.runningVar, expected.variance, (c) => bound.variance[c])];
}

export interface NormBadInputsReport {
  /** Per bad call: its name and the error code it threw ('none' when it threw nothing). */
  codes: { name: string; code: string }[];
  /** Whether every output buffer still held its poison after the calls' encoders were submitted. */
  outputsUntouched: boolean;
}

/**
 * The GPU-resident calls' validation: each bad call must throw a BatchNormError with its code
 * before recording anything (the encoder, submitted after, leaves every output poisoned).
 */
export async function runNormBadInputsCase(): Promise<NormBadInputsReport> {
  const bn = await engineFor(undefined);
  const gpu = bn.gpu!;
  const device = gpu.device;
  const view: NormView = { size: 24, outer: 2, params: 12, inner: 1, groups: 1, rows: 2, rowLength: 12 };
  const call = { kind: 'layer' as NormKind, view, eps: 1e-5, activation: 'none' as NormActivation };
  const poison = (n: number) => new Float32Array(n).fill(NaN);
  const b = {
    x: storageBuffer(device, 'bad.x', new Float32Array(24).fill(1)),
    small: storageBuffer(device, 'bad.small', new Float32Array(4)),
    y: storageBuffer(device, 'bad.y', poison(24)),
    stats: storageBuffer(device, 'bad.stats', poison(10)),
    gamma: storageBuffer(device, 'bad.gamma', new Float32Array(12).fill(1)),
    dy: storageBuffer(device, 'bad.dy', new Float32Array(24).fill(1)),
    dx: storageBuffer(device, 'bad.dx', poison(24)),
    dgamma: storageBuffer(device, 'bad.dgamma', poison(12)),
    dz: storageBuffer(device, 'bad.dz', poison(24)),
  };
  const forward = { ...call, x: b.x, y: b.y, stats: b.stats };
  const backward = { ...call, x: b.x, dy: b.dy, stats: b.stats, dx: b.dx };
  const bad: [string, (encoder: GPUCommandEncoder) => unknown][] = [
    ['not an encoder', () => gpu.norms.encodeForward({} as GPUCommandEncoder, forward)],
    ['unknown kind', (e) => gpu.norms.encodeForward(e, { ...forward, kind: 'batch' as NormKind })],
    ['unknown activation', (e) => gpu.norms.encodeForward(e, { ...forward, activation: 'tanh' as NormActivation })],
    ['negative eps', (e) => gpu.norms.encodeForward(e, { ...forward, eps: -1 })],
    ['inconsistent view', (e) => gpu.norms.encodeForward(e, { ...forward, view: { ...view, rows: 3 } })],
    ['groups not dividing params', (e) => gpu.norms.encodeForward(e, { ...forward, kind: 'group', view: { ...view, groups: 5 } })],
    ['x too small', (e) => gpu.norms.encodeForward(e, { ...forward, x: b.small })],
    ['y aliases x', (e) => gpu.norms.encodeForward(e, { ...forward, y: b.x })],
    ['stats too small', (e) => gpu.norms.encodeForward(e, { ...forward, stats: b.small })],
    ['beta for RMS norm', (e) => gpu.norms.encodeForward(e, { ...forward, kind: 'rms', beta: b.gamma })],
    ['gamma not a buffer', (e) => gpu.norms.encodeForward(e, { ...forward, gamma: new Float32Array(12) as unknown as GPUBuffer })],
    ['relu backward without y', (e) => gpu.norms.encodeBackward(e, { ...backward, activation: 'relu' })],
    ['gelu dz without z', (e) => gpu.norms.encodeBackward(e, { ...backward, activation: 'gelu', dz: b.dz })],
    ['dbeta for RMS norm', (e) => gpu.norms.encodeBackward(e, { ...backward, kind: 'rms', dbeta: b.dgamma })],
    ['dx aliases dy', (e) => gpu.norms.encodeBackward(e, { ...backward, dx: b.dy })],
    ['dgamma aliases gamma', (e) => gpu.norms.encodeBackward(e, { ...backward, gamma: b.gamma, dgamma: b.gamma })],
  ];
  const codes = [];
  for (const [name, attempt] of bad) {
    const encoder = device.createCommandEncoder({ label: `test.norm.bad.${name}` });
    let code = 'none';
    try {
      attempt(encoder);
    } catch (error) {
      code = (error as { code?: string }).code ?? String(error);
    }
    device.queue.submit([encoder.finish()]);
    codes.push({ name, code });
  }
  await gpu.checkErrors();
  const outputs = await Promise.all([readBuffer(device, b.y, 24), readBuffer(device, b.stats, 10), readBuffer(device, b.dx, 24), readBuffer(device, b.dgamma, 12), readBuffer(device, b.dz, 24)]);
  for (const buffer of Object.values(b)) buffer.destroy();
  return { codes, outputsUntouched: outputs.every((values) => values.every(Number.isNaN)) };
}
