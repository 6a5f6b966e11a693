/**
 * The relu rules, run inside the page through the GPU-resident API:
 * - forward: relu by bit test (negative values, −0 and −Inf to +0, NaN stays NaN, +Inf stays);
 * - mask: the backward passes dy exactly where the y it is given is > 0, for any y, NaN payloads,
 *   ±0, denormals and ±Inf included (a crafted y buffer, not a forward's);
 * - agreement by construction: inputs crafted so that x·scale + shift is exactly 0 or within an ulp
 *   of it, where a fused and an unfused fma give outputs of different sign; whatever the forward
 *   computed, the backward's mask equals (y > 0) of the y it wrote.
 * The mask is read off the results with dy = 1: in eval mode dx = k·g is nonzero exactly where dy
 * passed, and dbeta = Σ g counts the passing elements of a channel exactly (sums of 0 and 1).
 */
import { createBatchNorm, type BatchNorm, type Layout } from '../../../src/index';
import { defaultTuning, type KernelTuning } from '../../../src/advanced';
import { engineFor } from './case-engines';
import { channelOf, splitShape } from '../../support/channel-index';
import { caseSeed, createRng, normals } from '../../support/random';
import { readBuffer, storageBuffer } from './gpu-buffers';

export interface ReluRulesResult {
  name: string;
  problems: string[];
  /** Elements whose pre-activation a fused and an unfused fma put on different sides of 0. */
  contested: number;
  /** Elements whose dy passed, of all elements. */
  passing: number;
  size: number;
}

const shapes: { shape: number[]; layout: Layout }[] = [
  { shape: [64, 8], layout: 'NC' }, // rows, vec4 channels
  { shape: [2, 4, 8, 3], layout: 'NHWC' }, // rows, scalar
  { shape: [2, 4, 4, 8], layout: 'NCHW' }, // runs, vec4
  { shape: [4, 3, 17], layout: 'NCL' }, // runs, scalar
];

const tunings: [string, Partial<KernelTuning> | undefined][] = [
  ['adapter tuning', undefined],
  ['GPU tuning', { ...defaultTuning }],
];

/** y > 0 from the bits: +denormal … +Inf; what activation.wgsl's reluPasses decides. */
const passesByBits = (bits: number) => ((bits - 1) >>> 0) < 0x7f800000;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const bitsOf = (v: number) => ((f32[0] = v), u32[0]);
const fromBits = (bits: number) => ((u32[0] = bits >>> 0), f32[0]);
/** The float32 `steps` ulps above v (below for negative steps), crossing 0 correctly. */
function stepUlps(v: number, steps: number): number {
  // Map the float to a monotone integer line (sign-magnitude to two's complement) and back.
  const bits = bitsOf(v);
  const line = bits & 0x80000000 ? -(bits & 0x7fffffff) : bits;
  const moved = line + steps;
  return fromBits(moved < 0 ? (0x80000000 | -moved) >>> 0 : moved);
}

/** Sign of x·s + b computed exactly (fused) and with the product rounded first (unfused) differ. */
function contested(x: number, s: number, b: number): boolean {
  const fused = x * s + b > 0; // x·s is exact in float64; the sum's rounding keeps its sign
  const unfused = Math.fround(Math.fround(x * s) + b) > 0;
  return fused !== unfused;
}

interface Run {
  bn: BatchNorm;
  device: GPUDevice;
  made: GPUBuffer[];
}

function buffer(run: Run, label: string, data: Float32Array): GPUBuffer {
  const b = storageBuffer(run.device, label, data);
  run.made.push(b);
  return b;
}

/** dx, dgamma, dbeta of a relu backward with dy = 1 and the given y buffer. */
async function backwardWithY(run: Run, shape: number[], layout: Layout, mode: 'train' | 'eval', x: GPUBuffer, y: GPUBuffer, stats: GPUBuffer, gamma: GPUBuffer) {
  const n = shape.reduce((a, b) => a * b, 1);
  const { channels: C } = splitShape(shape, layout);
  const dx = buffer(run, 'dx', new Float32Array(n).fill(NaN));
  const dgamma = buffer(run, 'dgamma', new Float32Array(C).fill(NaN));
  const dbeta = buffer(run, 'dbeta', new Float32Array(C).fill(NaN));
  const encoder = run.device.createCommandEncoder({ label: 'test.reluRules.backward' });
  run.bn.gpu!.encodeBackward(encoder, { shape, layout, activation: 'relu', mode, dy: buffer(run, 'dy', new Float32Array(n).fill(1)), x, y, dx, stats, gamma, dgamma, dbeta });
  run.device.queue.submit([encoder.finish()]);
  return { dx: await readBuffer(run.device, dx, n), dbeta: await readBuffer(run.device, dbeta, C) };
}

/** What the backward must show for this y: dbeta counts y > 0 per channel; in eval dx ≠ 0 exactly there. */
function maskProblems(shape: number[], layout: Layout, mode: 'train' | 'eval', y: Float32Array, out: { dx: Float32Array; dbeta: Float32Array }): string[] {
  const { channels, inner } = splitShape(shape, layout);
  const problems: string[] = [];
  const counts = new Float64Array(channels);
  for (let i = 0; i < y.length; i++) {
    const passes = y[i] > 0;
    if (passes !== passesByBits(bitsOf(y[i]))) problems.push(`the bit rule and y > 0 differ at y = ${y[i]}`);
    if (passes) counts[channelOf(i, channels, inner)]++;
    if (mode === 'eval' && (out.dx[i] !== 0) !== passes && problems.length < 5) {
      problems.push(`${mode} dx[${i}] = ${out.dx[i]} for y = ${y[i]} (bits 0x${bitsOf(y[i]).toString(16)}): dy ${passes ? 'must pass' : 'must be masked'}`);
    }
  }
  for (let c = 0; c < channels; c++) {
    if (out.dbeta[c] !== counts[c]) problems.push(`${mode} dbeta[${c}] = ${out.dbeta[c]}, but ${counts[c]} elements have y > 0`);
  }
  return problems;
}

/** Training dx against the CPU path given the same y: a different mask moves dx by k = γ·invStd. */
async function trainDxProblems(cpu: BatchNorm, shape: number[], layout: Layout, x: Float32Array, y: Float32Array, gamma: Float32Array, beta: Float32Array, stats: Float32Array, dx: Float32Array): Promise<string[]> {
  const { channels: C, inner } = splitShape(shape, layout);
  const saved = { mean: stats.slice(0, C), invStd: stats.slice(2 * C, 3 * C), y };
  const expected = await cpu.backward(new Float32Array(x.length).fill(1), x, { shape, layout, gamma, beta, activation: 'relu' }, saved);
  const problems: string[] = [];
  for (let i = 0; i < x.length && problems.length < 5; i++) {
    const c = channelOf(i, C, inner);
    const k = Math.abs(gamma[c] * saved.invStd[c]);
    if (!(Math.abs(dx[i] - expected.dx[i]) <= 0.25 * k)) problems.push(`train dx[${i}] = ${dx[i]}, CPU with the same y ${expected.dx[i]} (y = ${y[i]})`);
  }
  return problems;
}

/** forwardInference with γ = 1, β = 0, mean 0: y = relu(x · scale), scale ≈ 1, on special values. */
async function forwardRule(run: Run, cpu: BatchNorm, shape: number[], layout: Layout): Promise<string[]> {
  const n = shape.reduce((a, b) => a * b, 1);
  const { channels: C } = splitShape(shape, layout);
  const specials = [NaN, fromBits(0xffc00000), Infinity, -Infinity, 0, -0, 1e-40, -1e-40, 3, -3, 3e38, -3e38, 1.5e-38, -1.5e-38];
  const x = Float32Array.from({ length: n }, (_, i) => specials[i % specials.length]);
  const opts = { shape, layout, activation: 'relu' as const, runningMean: new Float32Array(C), runningVar: new Float32Array(C).fill(1) };
  const yBuffer = buffer(run, 'y', new Float32Array(n).fill(12345));
  const encoder = run.device.createCommandEncoder({ label: 'test.reluRules.forward' });
  run.bn.gpu!.encodeForwardInference(encoder, { ...opts, x: buffer(run, 'x', x), y: yBuffer, runningMean: buffer(run, 'runningMean', opts.runningMean), runningVar: buffer(run, 'runningVar', opts.runningVar) });
  run.device.queue.submit([encoder.finish()]);
  const y = await readBuffer(run.device, yBuffer, n);
  const onCpu = await cpu.forwardInference(x, opts);
  const problems: string[] = [];
  for (let i = 0; i < n && problems.length < 5; i++) {
    const v = x[i];
    let ok: boolean;
    if (Number.isNaN(v)) ok = Number.isNaN(y[i]) && Number.isNaN(onCpu[i]);
    else if (v === Infinity) ok = y[i] === Infinity && onCpu[i] === Infinity;
    else if (v <= 0) ok = bitsOf(y[i]) === 0 && bitsOf(onCpu[i]) === 0; // +0 exactly, whatever the sign of 0 in
    else ok = y[i] > 0 || (y[i] === 0 && v < 1.2e-38); // a positive denormal may be flushed to 0
    if (!ok) problems.push(`forward relu of x = ${v}: GPU ${y[i]} (bits 0x${bitsOf(y[i]).toString(16)}), CPU ${onCpu[i]}`);
  }
  return problems;
}

/** A crafted y of special bit patterns, not a forward's: the mask must follow its bits alone. */
async function maskRule(run: Run, cpu: BatchNorm, seed: number, shape: number[], layout: Layout): Promise<ReluRulesResult[]> {
  const n = shape.reduce((a, b) => a * b, 1);
  const { channels: C } = splitShape(shape, layout);
  const patterns = [0x7fc00000, 0xffc00000, 0x7f800001, 0xff800001, 0x7f800000, 0xff800000, 0, 0x80000000, 1, 0x80000001, 0x7f7fffff, 0xff7fffff, 0x3f800000, 0xbf800000, 0x00800000, 0x80800000, 0x007fffff];
  const yBits = Uint32Array.from({ length: n }, (_, i) => patterns[(i * 7 + Math.floor(i / patterns.length)) % patterns.length]);
  const y = new Float32Array(yBits.buffer);
  const rng = createRng(caseSeed(seed, `relu mask ${layout} [${shape}]`));
  const x = normals(rng, n, 0, 1);
  const gamma = normals(rng, C, 1, 0.2);
  const beta = normals(rng, C, 0, 0.2);
  const buffers = { x: buffer(run, 'x', x), y: buffer(run, 'yCrafted', y), gamma: buffer(run, 'gamma', gamma), beta: buffer(run, 'beta', beta) };
  const results: ReluRulesResult[] = [];
  for (const mode of ['train', 'eval'] as const) {
    // The statistics of a real forward (its own y goes elsewhere); the backward gets the crafted y.
    const stats = buffer(run, 'stats', new Float32Array(5 * C).fill(NaN));
    const encoder = run.device.createCommandEncoder({ label: 'test.reluRules.stats' });
    const forward = { shape, layout, activation: 'relu' as const, x: buffers.x, y: buffer(run, 'yForward', new Float32Array(n)), stats, gamma: buffers.gamma, beta: buffers.beta };
    if (mode === 'train') run.bn.gpu!.encodeForwardTrain(encoder, forward);
    else run.bn.gpu!.encodeForwardInference(encoder, { ...forward, runningMean: buffer(run, 'runningMean', new Float32Array(C)), runningVar: buffer(run, 'runningVar', new Float32Array(C).fill(1)) });
    run.device.queue.submit([encoder.finish()]);
    const out = await backwardWithY(run, shape, layout, mode, buffers.x, buffers.y, stats, buffers.gamma);
    const problems = maskProblems(shape, layout, mode, y, out);
    if (mode === 'train') problems.push(...(await trainDxProblems(cpu, shape, layout, x, y, gamma, beta, await readBuffer(run.device, stats, 5 * C), out.dx)));
    const passing = y.reduce((count, v) => count + (v > 0 ? 1 : 0), 0);
    results.push({ name: `mask of a crafted y, ${mode}, ${layout} [${shape}]`, problems, contested: 0, passing, size: n });
  }
  return results;
}

/**
 * Eval: running mean 0, so shift = β; x stepped ulp by ulp around −shift/scale (scale and shift
 * as the GPU folded them), where x·scale + shift crosses 0 and its rounding decides the sign.
 */
async function craftedEval(run: Run, shape: number[], layout: Layout): Promise<ReluRulesResult> {
  const n = shape.reduce((a, b) => a * b, 1);
  const { channels: C, inner } = splitShape(shape, layout);
  const gamma = Float32Array.from({ length: C }, (_, c) => 0.7 + 0.37 * c);
  const beta = Float32Array.from({ length: C }, (_, c) => (c % 2 ? -1 : 1) * (0.3 + 0.21 * c));
  const opts = { shape, layout, activation: 'relu' as const };
  const fixed = { gamma: buffer(run, 'gamma', gamma), beta: buffer(run, 'beta', beta), runningMean: buffer(run, 'runningMean', new Float32Array(C)), runningVar: buffer(run, 'runningVar', Float32Array.from({ length: C }, (_, c) => 1 + 0.5 * c)) };
  const stats = buffer(run, 'stats', new Float32Array(5 * C).fill(NaN));
  const forward = async (x: Float32Array) => {
    const y = buffer(run, 'y', new Float32Array(n).fill(NaN));
    const xBuffer = buffer(run, 'x', x);
    const encoder = run.device.createCommandEncoder({ label: 'test.reluRules.craftedEval' });
    run.bn.gpu!.encodeForwardInference(encoder, { ...opts, ...fixed, x: xBuffer, y, stats });
    run.device.queue.submit([encoder.finish()]);
    return { xBuffer, yBuffer: y, y: await readBuffer(run.device, y, n), stats: await readBuffer(run.device, stats, 5 * C) };
  };
  const first = await forward(new Float32Array(n));
  const scale = first.stats.slice(3 * C, 4 * C);
  const shift = first.stats.slice(4 * C, 5 * C);
  const seen = new Int32Array(C);
  const x = Float32Array.from({ length: n }, (_, i) => {
    const c = channelOf(i, C, inner);
    const k = seen[c]++;
    return stepUlps(Math.fround(-shift[c] / scale[c]), (k >> 1) * (k % 2 ? 1 : -1));
  });
  const run2 = await forward(x);
  const problems: string[] = [];
  if (run2.stats.some((v, i) => !Object.is(v, first.stats[i]))) problems.push('the inference fold changed between two runs');
  let count = 0;
  for (let i = 0; i < n; i++) if (contested(x[i], scale[channelOf(i, C, inner)], shift[channelOf(i, C, inner)])) count++;
  const out = await backwardWithY(run, shape, layout, 'eval', run2.xBuffer, run2.yBuffer, stats, fixed.gamma);
  problems.push(...maskProblems(shape, layout, 'eval', run2.y, out));
  const passing = run2.y.reduce((total, v) => total + (v > 0 ? 1 : 0), 0);
  return { name: `crafted pre-activations near 0, eval, ${layout} [${shape}]`, problems, contested: count, passing, size: n };
}

/**
 * Train: the batch statistics depend on x but not on γ and β. A first forward gives mean and
 * invStd; γ and β are then chosen so that shift ≈ −x0·scale for a value x0 the data holds, with
 * its ulp neighbours; the second forward's own scale and shift (read back) count the contested
 * elements.
 */
async function craftedTrain(run: Run, cpu: BatchNorm, seed: number, shape: number[], layout: Layout): Promise<ReluRulesResult> {
  const n = shape.reduce((a, b) => a * b, 1);
  const { channels: C, inner } = splitShape(shape, layout);
  const rng = createRng(caseSeed(seed, `relu crafted train ${layout} [${shape}]`));
  const centers = Array.from({ length: C }, () => rng.normal());
  const x0 = centers.map((m) => Math.fround(m + 0.3 + 0.2 * rng.uniform()));
  const seen = new Int32Array(C);
  const x = Float32Array.from({ length: n }, (_, i) => {
    const c = channelOf(i, C, inner);
    const k = seen[c]++;
    // Every other value random around the channel's center, the rest x0 and its ulp neighbours.
    return k % 2 ? Math.fround(centers[c] + rng.normal()) : stepUlps(x0[c], (k >> 2) * ((k >> 1) % 2 ? 1 : -1));
  });
  const opts = { shape, layout, activation: 'relu' as const };
  const xBuffer = buffer(run, 'x', x);
  const stats = buffer(run, 'stats', new Float32Array(5 * C).fill(NaN));
  const forward = async (gamma: Float32Array, beta: Float32Array) => {
    const y = buffer(run, 'y', new Float32Array(n).fill(NaN));
    const gammaBuffer = buffer(run, 'gamma', gamma);
    const encoder = run.device.createCommandEncoder({ label: 'test.reluRules.craftedTrain' });
    run.bn.gpu!.encodeForwardTrain(encoder, { ...opts, x: xBuffer, y, stats, gamma: gammaBuffer, beta: buffer(run, 'beta', beta) });
    run.device.queue.submit([encoder.finish()]);
    return { gammaBuffer, yBuffer: y, y: await readBuffer(run.device, y, n), stats: await readBuffer(run.device, stats, 5 * C) };
  };
  const first = await forward(new Float32Array(C).fill(1), new Float32Array(C));
  const mean = first.stats.slice(0, C);
  const invStd = first.stats.slice(2 * C, 3 * C);
  const gamma = Float32Array.from({ length: C }, (_, c) => 0.8 + 0.3 * c);
  const scale = Float32Array.from(gamma, (g, c) => g * invStd[c]);
  const beta = Float32Array.from({ length: C }, (_, c) => Math.fround(mean[c] * scale[c]) - Math.fround(x0[c] * scale[c]));
  const second = await forward(gamma, beta);
  const problems: string[] = [];
  for (let c = 0; c < C; c++) {
    if (!Object.is(second.stats[c], mean[c]) || !Object.is(second.stats[2 * C + c], invStd[c])) problems.push(`the batch statistics of channel ${c} changed between two runs`);
  }
  let count = 0;
  for (let i = 0; i < n; i++) {
    const c = channelOf(i, C, inner);
    if (contested(x[i], second.stats[3 * C + c], second.stats[4 * C + c])) count++;
  }
  const out = await backwardWithY(run, shape, layout, 'train', xBuffer, second.yBuffer, stats, second.gammaBuffer);
  problems.push(...maskProblems(shape, layout, 'train', second.y, out));
  problems.push(...(await trainDxProblems(cpu, shape, layout, x, second.y, gamma, beta, second.stats, out.dx)));
  const passing = second.y.reduce((total, v) => total + (v > 0 ? 1 : 0), 0);
  return { name: `crafted pre-activations near 0, train, ${layout} [${shape}]`, problems, contested: count, passing, size: n };
}

export async function runReluRulesCase(arg: { seed: number }): Promise<{ backend: string; results: ReluRulesResult[] }> {
  const cpu = await createBatchNorm({ backend: 'cpu' });
  const results: ReluRulesResult[] = [];
  let backend = '';
  for (const [tuningName, tuning] of tunings) {
    const bn = await engineFor(tuning);
    backend = bn.backend;
    const run: Run = { bn, device: bn.gpu!.device, made: [] };
    try {
      for (const { shape, layout } of shapes) {
        const tag = (r: ReluRulesResult) => ({ ...r, name: `${r.name}, ${tuningName}` });
        results.push({ name: `forward relu of NaN, ±Inf, ±0, denormals, ${layout} [${shape}], ${tuningName}`, problems: await forwardRule(run, cpu, shape, layout), contested: 0, passing: 0, size: 0 });
        results.push(...(await maskRule(run, cpu, arg.seed, shape, layout)).map(tag));
        results.push(tag(await craftedEval(run, shape, layout)));
        results.push(tag(await craftedTrain(run, cpu, arg.seed, shape, layout)));
      }
    } finally {
      for (const b of run.made) b.destroy();
    }
  }
  cpu.dispose();
  return { backend, results };
}
