/**
 * NaN and ±Inf through the norm family on the GPU: a row holding a non-finite value (or values whose
 * squares overflow float32) gets NaN statistics and NaN for its every output; a NaN in dy makes its
 * row's dx and its parameter's dγ, dβ NaN; nothing spreads further. Each scenario runs on the GPU
 * engine and the CPU engine, which must agree class for class (NaN, ±Inf, finite), on the row-wise
 * kernels (rows of vec4 units) and the tensor-wide ones.
 */
import { createBatchNorm, type BatchNorm } from '../../../src/index';
import type { NormActivation, NormKind } from '../../../src/norms/norm-types';
import { compareOutputs, type Outputs } from '../../support/non-finite';
import { createRng, normals } from '../../support/random';

export interface NormNonFiniteReport {
  results: { name: string; backend: string; rules: string[]; gpuVsCpu: string[] }[];
}

interface Scenario {
  name: string;
  kind: NormKind;
  shape: number[];
  groups?: number;
  activation: NormActivation;
  /** Where x (forward) or dy (backward) gets `value`. */
  plant: { array: 'x' | 'dy'; index: number; value: number }[];
}

const kinds: { kind: NormKind; shape: number[]; groups?: number; path: string }[] = [
  { kind: 'layer', shape: [4, 8], path: 'row-wise' },
  { kind: 'layer', shape: [4, 7], path: 'tensor-wide' },
  { kind: 'rms', shape: [3, 12], path: 'row-wise' },
  { kind: 'group', shape: [2, 4, 8], groups: 2, path: 'row-wise' },
  { kind: 'instance', shape: [2, 3, 5], path: 'tensor-wide' },
];

function scenarios(): Scenario[] {
  const list: Scenario[] = [];
  for (const { kind, shape, groups, path } of kinds) {
    const tag = `${kind} [${shape}] (${path})`;
    const base = { kind, shape, groups };
    list.push(
      { name: `${tag}: NaN in x`, ...base, activation: 'none', plant: [{ array: 'x', index: 5, value: NaN }] },
      { name: `${tag}: +Inf in x, relu`, ...base, activation: 'relu', plant: [{ array: 'x', index: 2, value: Infinity }] },
      { name: `${tag}: −Inf in x, gelu`, ...base, activation: 'gelu', plant: [{ array: 'x', index: 9, value: -Infinity }] },
      { name: `${tag}: squares past float32`, ...base, activation: 'silu', plant: [{ array: 'x', index: 1, value: 3e38 }, { array: 'x', index: 3, value: -3e38 }] },
      { name: `${tag}: NaN in dy`, ...base, activation: 'none', plant: [{ array: 'dy', index: 6, value: NaN }] },
      { name: `${tag}: +Inf in dy`, ...base, activation: 'none', plant: [{ array: 'dy', index: 3, value: Infinity }] },
    );
  }
  return list;
}

function optionsOf(s: Scenario): Record<string, unknown> {
  return s.kind === 'group' ? { shape: s.shape, groups: s.groups, activation: s.activation } : { shape: s.shape, activation: s.activation };
}

/** The rows and parameters of the scenario's shape (layer/RMS: rows of the last dim; group/instance: channels first). */
function geometry(s: Scenario): { rows: number; rowLength: number; params: number; paramOf: (i: number) => number } {
  const size = s.shape.reduce((a, b) => a * b, 1);
  if (s.kind === 'layer' || s.kind === 'rms') {
    const D = s.shape[s.shape.length - 1];
    return { rows: size / D, rowLength: D, params: D, paramOf: (i) => i % D };
  }
  const C = s.shape[1];
  const inner = size / (s.shape[0] * C);
  const G = s.kind === 'instance' ? C : s.groups!;
  return { rows: s.shape[0] * G, rowLength: (C / G) * inner, params: C, paramOf: (i) => Math.floor(i / inner) % C };
}

/** Which outputs must be NaN, and that everything else is finite. */
function ruleViolations(s: Scenario, out: Outputs): string[] {
  const { rows, rowLength, params, paramOf } = geometry(s);
  const badRows = new Set(s.plant.map((p) => Math.floor(p.index / rowLength)));
  const badParams = new Set(s.plant.map((p) => paramOf(p.index)));
  const problems: string[] = [];
  const expect = (name: string, i: number, nan: boolean) => {
    const a = out[name];
    if (!a) return;
    const v = a[i];
    if (nan ? !Number.isNaN(v) : !Number.isFinite(v)) problems.push(`${name}[${i}] = ${v}, expected ${nan ? 'NaN' : 'finite'}`);
  };
  if (s.plant[0].array === 'x') {
    for (let r = 0; r < rows; r++) {
      for (const name of ['mean', 'invStd']) expect(name, r, badRows.has(r));
      for (let j = 0; j < rowLength; j++) expect('y', r * rowLength + j, badRows.has(r));
    }
  } else {
    for (let i = 0; i < rows * rowLength; i++) expect('dx', i, badRows.has(Math.floor(i / rowLength)));
    for (let p = 0; p < params; p++) for (const name of ['dgamma', 'dbeta']) expect(name, p, badParams.has(p));
  }
  return problems.slice(0, 4);
}

type NormCall = (x: Float32Array, opts: never) => Promise<Record<string, Float32Array>>;
type NormBackwardCall = (dy: Float32Array, x: Float32Array, opts: never, saved: never) => Promise<Record<string, Float32Array>>;

async function run(bn: BatchNorm, s: Scenario, x: Float32Array, dy: Float32Array, cleanX: Float32Array, cpu: BatchNorm): Promise<Outputs> {
  const norms = bn.norms as unknown as Record<string, NormCall & NormBackwardCall>;
  const opts = optionsOf(s) as never;
  if (s.plant[0].array === 'x') {
    const { y, mean, invStd } = await norms[`${s.kind}Norm`](x, opts);
    return mean ? { y, mean, invStd } : { y, invStd };
  }
  // Both engines take the CPU path's statistics (and y) of the clean x, so only dy differs.
  const saved = (await (cpu.norms as unknown as Record<string, NormCall>)[`${s.kind}Norm`](cleanX, opts)) as never;
  const { dx, dgamma, dbeta } = await norms[`${s.kind}NormBackward`](dy, x, opts, saved);
  return dbeta ? { dx, dgamma, dbeta } : { dx, dgamma };
}

let engines: Promise<[BatchNorm, BatchNorm]> | undefined;

export async function runNormNonFiniteCase(arg: { seed: number }): Promise<NormNonFiniteReport> {
  engines ??= Promise.all([createBatchNorm({ backend: 'webgpu' }), createBatchNorm({ backend: 'cpu' })]);
  const [gpu, cpu] = await engines;
  const results: NormNonFiniteReport['results'] = [];
  for (const [k, s] of scenarios().entries()) {
    const size = s.shape.reduce((a, b) => a * b, 1);
    const rng = createRng(arg.seed + k);
    const cleanX = normals(rng, size, 1, 2);
    const x = cleanX.slice();
    const dy = normals(rng, size);
    for (const p of s.plant) (p.array === 'x' ? x : dy)[p.index] = p.value;
    const onCpu = await run(cpu, s, x, dy, cleanX, cpu);
    const onGpu = await run(gpu, s, x, dy, cleanX, cpu);
    results.push({ name: s.name, backend: gpu.backend, rules: ruleViolations(s, onGpu), gpuVsCpu: compareOutputs(onGpu, onCpu) });
  }
  return { results };
}
