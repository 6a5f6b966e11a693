/**
 * The portable GPU suite: the browser suite's page-side cases (randomized differential cases,
 * forward, backward and optimizer cases, all checked against float64 or CPU references) run on
 * whatever `GPU` object a runner hands in — Dawn in Node, wgpu in Deno — with no browser and no test
 * framework. Vite builds this file into one ES module (global-setup.ts); a runner imports it,
 * calls runPortable() and exits with its status, so every implementation is checked by the same
 * code. The cases read `navigator.gpu`, as they do in a page, so runPortable installs `gpu` there.
 */
import { createBatchNorm } from '../../src/index';
import { type KernelTuning } from '../../src/advanced';
import { shaderModuleNames } from '../../src/gpu/pipelines';
import { runBackwardCase } from '../gpu/page/backward-case';
import { engineFor } from '../gpu/page/case-engines';
import { drawCase, runDifferentialBatch } from '../gpu/page/differential-case';
import { float16Problems, runFloat16LayerCase } from '../gpu/page/float16-case';
import { runForwardCase } from '../gpu/page/forward-case';
import { runNonFiniteCase } from '../gpu/page/non-finite-case';
import { runNormBadInputsCase, runNormCase } from '../gpu/page/norms-case';
import { runOptimizerCase } from '../gpu/page/optimizer-case';
import { backwardCases, forwardCases, normCases, optimizerCases } from './matrix';

/** 'probe' runs no case: it reports the adapter and the engine's device, for the test setup. */
export const parts = ['probe', 'differential', 'forward', 'backward', 'optimizers', 'non-finite', 'norms'] as const;
export type Part = (typeof parts)[number];

export interface PortableOptions {
  part: Part;
  seed: number;
  /** Differential cases to run (the other parts are fixed lists). */
  differentialCases: number;
  /** The cases' adapters are requested at this feature level (OpenGL ES / D3D11 class devices). */
  featureLevel?: 'compatibility';
}

export interface AdapterFacts {
  description: string;
  vendor: string;
  architecture: string;
  isFallbackAdapter: boolean;
  features: string[];
  /** The adapter's reported range, and the sizes a kernel actually saw (undefined without `subgroups`). */
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
  measuredSubgroupSizes?: number[];
}

/** What the library's own device got: a compatibility-mode device lacks 'core-features-and-limits'. */
export interface DeviceFacts {
  features: string[];
  maxStorageBuffersPerShaderStage: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxStorageBufferBindingSize: number;
}

export interface PortableSummary {
  part: Part;
  seed: number;
  adapter: AdapterFacts;
  device: DeviceFacts;
  /** Cases run, per kind (op, layout, path, tuning). */
  counts: Record<string, number>;
  cases: number;
  failures: string[];
  /** Shader modules the engine's device built: shows which kernel variants ran. */
  modules: string[];
  ms: number;
}

/** Makes `gpu` the page-like `navigator.gpu` the cases and the library's defaults read. */
function installGpu(gpu: GPU, featureLevel: PortableOptions['featureLevel']): void {
  const entry: GPU =
    featureLevel === 'compatibility'
      ? Object.assign(Object.create(gpu) as GPU, { requestAdapter: (options?: GPURequestAdapterOptions) => gpu.requestAdapter({ ...options, featureLevel } as GPURequestAdapterOptions) })
      : gpu;
  const scope = globalThis as { navigator?: { gpu?: GPU } };
  if (scope.navigator === undefined) Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true });
  if (scope.navigator!.gpu !== entry) Object.defineProperty(scope.navigator!, 'gpu', { value: entry, configurable: true, writable: true });
}

/**
 * The subgroup sizes a compute kernel actually sees on an adapter with `subgroups`: the adapter's
 * reported range is a promise about every pipeline, this is what the workgroup-sum kernels get.
 */
const subgroupSizeSource = /* wgsl */ `
enable subgroups;
@group(0) @binding(0) var<storage, read_write> seen: array<atomic<u32>, 129>;
@compute @workgroup_size(64)
fn main(@builtin(subgroup_size) size: u32) {
  atomicAdd(&seen[min(size, 128u)], 1u);
}`;

async function measureSubgroupSizes(adapter: GPUAdapter): Promise<number[]> {
  const device = await adapter.requestDevice({ label: 'portable.subgroupSize.device', requiredFeatures: ['subgroups' as GPUFeatureName] });
  try {
    const module = device.createShaderModule({ label: 'portable.subgroupSize', code: subgroupSizeSource });
    const pipeline = device.createComputePipeline({ label: 'portable.subgroupSize', layout: 'auto', compute: { module, entryPoint: 'main' } });
    const bytes = 129 * 4;
    const seen = device.createBuffer({ label: 'portable.subgroupSize.seen', size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
    const staging = device.createBuffer({ label: 'portable.subgroupSize.staging', size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const bindGroup = device.createBindGroup({ label: 'portable.subgroupSize', layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: seen } }] });
    const encoder = device.createCommandEncoder({ label: 'portable.subgroupSize' });
    const pass = encoder.beginComputePass({ label: 'portable.subgroupSize' });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(16);
    pass.end();
    encoder.copyBufferToBuffer(seen, 0, staging, 0, bytes);
    device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const counts = new Uint32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    return [...counts.keys()].filter((size) => counts[size] > 0);
  } finally {
    device.destroy();
  }
}

async function adapterFacts(): Promise<AdapterFacts> {
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error('requestAdapter() returned null');
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean; subgroupMinSize?: number; subgroupMaxSize?: number };
  const features = [...adapter.features].map(String).sort();
  return {
    description: info.description,
    vendor: info.vendor,
    architecture: info.architecture,
    isFallbackAdapter: Boolean(info.isFallbackAdapter ?? (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter),
    features,
    subgroupMinSize: info.subgroupMinSize,
    subgroupMaxSize: info.subgroupMaxSize,
    measuredSubgroupSizes: features.includes('subgroups') ? await measureSubgroupSizes(adapter) : undefined,
  };
}

const count = (counts: Record<string, number>, key: string) => (counts[key] = (counts[key] ?? 0) + 1);
/** Which non-default tunings a case runs with: slabs, the barrier-tree sums, the GPU's launch shapes. */
function countTuning(counts: Record<string, number>, tuning: Partial<KernelTuning> | undefined): void {
  if (tuning?.maxBindingBytes !== undefined) count(counts, 'in slabs');
  if (tuning?.useSubgroups === false) count(counts, 'barrier-tree sums');
  if (tuning?.workgroupSize !== undefined) count(counts, 'GPU tuning');
}

async function runDifferential(o: PortableOptions, counts: Record<string, number>, failures: string[]): Promise<number> {
  // Cases per encoder and readback, as in the browser suite.
  const BATCH = 120;
  for (let first = 0; first < o.differentialCases; first += BATCH) {
    const report = await runDifferentialBatch({ seed: o.seed, first, count: Math.min(BATCH, o.differentialCases - first) });
    for (const [key, n] of Object.entries(report.counts)) counts[key] = (counts[key] ?? 0) + n;
    for (const f of report.failures) failures.push(`differential case ${f.spec.index} ${JSON.stringify(f.spec)}:\n  ${f.failures.join('\n  ')}`);
  }
  for (let index = 0; index < o.differentialCases; index++) count(counts, `layout ${drawCase(o.seed, index).layout ?? '(default)'}`);
  return o.differentialCases;
}

async function runForward(seed: number, counts: Record<string, number>, failures: string[]): Promise<number> {
  const cases = forwardCases(seed);
  for (const spec of cases) {
    const report = await runForwardCase(spec);
    count(counts, `${spec.pass} ${spec.layout ?? '(default)'}`);
    countTuning(counts, spec.tuning);
    const problems = report.checks.filter((c) => c.failure !== null).map((c) => c.failure!);
    if (report.backend !== 'webgpu') problems.push(`ran on backend ${report.backend}`);
    if (!report.inputUnmodified) problems.push('x was modified');
    problems.push(...float16Problems(spec.dtype, report));
    if (problems.length > 0) failures.push(`forward '${spec.name}':\n  ${problems.join('\n  ')}`);
  }
  // BatchNormLayer with dtype 'float16': the host API's results, or the refusal without shader-f16.
  const layer = await runFloat16LayerCase(seed);
  count(counts, `float16 layer (${layer.shaderF16 ? 'kernels' : 'refused'})`);
  if (layer.problems.length > 0) failures.push(`float16 layer:\n  ${layer.problems.join('\n  ')}`);
  return cases.length + 1;
}

async function runBackward(seed: number, counts: Record<string, number>, failures: string[]): Promise<number> {
  const cases = backwardCases(seed);
  for (const spec of cases) {
    const report = await runBackwardCase(spec);
    count(counts, `backward ${spec.mode} ${spec.layout ?? '(default)'}`);
    countTuning(counts, spec.tuning);
    const problems = report.checks.filter((c) => c.failure !== null).map((c) => c.failure!);
    if (report.backend !== 'webgpu') problems.push(`ran on backend ${report.backend}`);
    if (!report.inputUnmodified) problems.push('x or dy was modified');
    problems.push(...float16Problems(spec.dtype, report));
    // Inputs keep |β| ≤ |γ|, so on any tensor of some size the mask zeroes elements (as in the browser suite).
    if (spec.activation === 'relu' && report.size >= 64 && report.masked === 0) problems.push('the relu mask zeroed no element');
    if (problems.length > 0) failures.push(`backward '${spec.name}':\n  ${problems.join('\n  ')}`);
  }
  return cases.length;
}

async function runOptimizers(seed: number, counts: Record<string, number>, failures: string[]): Promise<number> {
  const cases = optimizerCases(seed);
  for (const spec of cases) {
    const report = await runOptimizerCase(spec);
    count(counts, `optimizer ${spec.options.kind}`);
    const problems = [...report.gpuErrors, ...report.checks.filter((c) => c.failure !== null).map((c) => c.failure!)];
    if (JSON.stringify(report.gpuSteps) !== JSON.stringify(report.cpuSteps)) problems.push(`step counts: GPU ${report.gpuSteps}, CPU ${report.cpuSteps}`);
    if (report.cpuSteps[0] !== spec.steps) problems.push(`the CPU optimizer took ${report.cpuSteps[0]} steps, not ${spec.steps}`);
    if (problems.length > 0) failures.push(`optimizer '${spec.name}':\n  ${problems.join('\n  ')}`);
  }
  return cases.length;
}

/** Layer, RMS, group and instance norm, forward and backward, and the resident calls' validation. */
async function runNorms(seed: number, counts: Record<string, number>, failures: string[]): Promise<number> {
  const cases = normCases(seed);
  for (const spec of cases) {
    const report = await runNormCase(spec);
    count(counts, `${spec.kind} norm`);
    countTuning(counts, spec.tuning);
    const problems = report.checks.filter((c) => c.failure !== null).map((c) => c.failure!);
    if (!report.inputsUnmodified) problems.push('an input was modified');
    if (spec.backward === false && (!report.forwardSlabs || report.backwardRefusal !== 'too-large')) problems.push(`slabs ${report.forwardSlabs}, backward refusal ${report.backwardRefusal}`);
    if (problems.length > 0) failures.push(`norm '${spec.name}':\n  ${problems.join('\n  ')}`);
  }
  const bad = await runNormBadInputsCase();
  const untyped = bad.codes.filter((c) => !['invalid-option', 'invalid-shape', 'invalid-buffer'].includes(c.code));
  if (untyped.length > 0 || !bad.outputsUntouched) failures.push(`norm bad inputs: ${JSON.stringify(untyped)}, outputs untouched ${bad.outputsUntouched}`);
  return cases.length + 1;
}

/** NaN and ±Inf: the README's rules on this implementation, class for class equal to the CPU path's. */
async function runNonFinite(seed: number, counts: Record<string, number>, failures: string[]): Promise<number> {
  const report = await runNonFiniteCase({ seed });
  for (const r of report.results) {
    count(counts, 'scenarios');
    const problems = [...r.rules, ...r.gpuVsCpu];
    if (r.backend !== 'webgpu') problems.push(`ran on backend ${r.backend}`);
    if (problems.length > 0) failures.push(`non-finite '${r.name}':\n  ${problems.join('\n  ')}`);
  }
  const { code, submits, writes } = report.checkFinite;
  if (code !== 'non-finite' || submits !== 0 || writes !== 0) failures.push(`checkFinite: ${code} after ${submits} submits and ${writes} writes (expected non-finite before any)`);
  return report.results.length;
}

/** Runs one part of the suite on `gpu`; never throws for a failing case (see `failures`). */
export async function runPortable(gpu: GPU, o: PortableOptions): Promise<PortableSummary> {
  installGpu(gpu, o.featureLevel);
  const started = performance.now();
  const adapter = await adapterFacts();
  const counts: Record<string, number> = {};
  const failures: string[] = [];
  // The library on its own, given the runner's GPU object as an application would: the default
  // engine must pick its WebGPU, not the CPU path (on a compatibility-only implementation, through
  // the library's fallback to a compatibility-mode adapter).
  const probe = await createBatchNorm({ gpu });
  if (probe.backend !== 'webgpu') failures.push(`createBatchNorm() chose backend '${probe.backend}' although an adapter is present`);
  const limits = probe.gpu?.device.limits;
  const device: DeviceFacts = {
    features: [...(probe.gpu?.device.features ?? [])].map(String).sort(),
    maxStorageBuffersPerShaderStage: limits?.maxStorageBuffersPerShaderStage ?? 0,
    maxComputeInvocationsPerWorkgroup: limits?.maxComputeInvocationsPerWorkgroup ?? 0,
    maxStorageBufferBindingSize: limits?.maxStorageBufferBindingSize ?? 0,
  };
  probe.dispose();
  let cases = 0;
  try {
    if (o.part === 'differential') cases = await runDifferential(o, counts, failures);
    if (o.part === 'forward') cases = await runForward(o.seed, counts, failures);
    if (o.part === 'backward') cases = await runBackward(o.seed, counts, failures);
    if (o.part === 'optimizers') cases = await runOptimizers(o.seed, counts, failures);
    if (o.part === 'non-finite') cases = await runNonFinite(o.seed, counts, failures);
    if (o.part === 'norms') cases = await runNorms(o.seed, counts, failures);
  } catch (error) {
    failures.push(`the ${o.part} part stopped: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  }
  const modules = o.part === 'forward' || o.part === 'backward' ? shaderModuleNames((await engineFor(undefined)).gpu!.device).sort() : [];
  return { part: o.part, seed: o.seed, adapter, device, counts, cases, failures, modules, ms: Math.round(performance.now() - started) };
}

/** What a runner prints: readable lines, then one JSON line the test files parse. */
export const SUMMARY_PREFIX = 'portable-summary ';

export function formatSummary(implementation: string, s: PortableSummary): string {
  const a = s.adapter;
  const d = s.device;
  const level = d.features.includes('core-features-and-limits') ? 'core' : 'no core-features-and-limits: compatibility mode, or an implementation without the feature';
  const subgroups = a.measuredSubgroupSizes ? `subgroup sizes seen ${a.measuredSubgroupSizes.join(', ')} (adapter reports ${a.subgroupMinSize ?? '?'}…${a.subgroupMaxSize ?? '?'})` : 'no subgroups';
  const lines = [
    `[${implementation}] ${s.part}: ${s.cases} cases, ${s.failures.length} failing, ${(s.ms / 1000).toFixed(1)} s, TEST_SEED=${s.seed}`,
    `  adapter: ${a.description || '(no description)'} (vendor '${a.vendor}', architecture '${a.architecture}', fallback ${a.isFallbackAdapter})`,
    `  ${subgroups}; shader-f16 ${a.features.includes('shader-f16')}; timestamp-query ${a.features.includes('timestamp-query')}`,
    `  adapter features: ${a.features.join(', ')}`,
    `  the engine's device: ${level}; features ${d.features.join(', ') || '(none)'}; ${d.maxStorageBuffersPerShaderStage} storage buffers per stage, ${d.maxComputeInvocationsPerWorkgroup} invocations per workgroup, ${d.maxStorageBufferBindingSize} bytes per storage binding`,
  ];
  if (s.cases > 0) lines.push(`  counts: ${Object.entries(s.counts).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (s.modules.length) lines.push(`  shader modules: ${s.modules.join(', ')}`);
  for (const failure of s.failures) lines.push(`  FAILED (replay with TEST_SEED=${s.seed}): ${failure}`);
  lines.push(SUMMARY_PREFIX + JSON.stringify({ implementation, ...s }));
  return lines.join('\n');
}

/** Reads a runner's arguments: <part> [differential cases]; the seed comes from TEST_SEED or is drawn. */
export function parseArgs(args: string[], env: { TEST_SEED?: string; PORTABLE_FEATURE_LEVEL?: string }): PortableOptions {
  const part = args[0] as Part;
  if (!parts.includes(part)) throw new Error(`usage: <runner> <${parts.join('|')}> [differential cases]; got ${JSON.stringify(args)}`);
  const differentialCases = args[1] === undefined ? 600 : Number(args[1]);
  if (!Number.isInteger(differentialCases) || differentialCases < 1) throw new Error(`differential cases must be a positive integer, got ${args[1]}`);
  const fromEnv = env.TEST_SEED;
  if (fromEnv !== undefined && fromEnv !== '' && !Number.isInteger(Number(fromEnv))) throw new Error(`TEST_SEED must be an integer, got ${fromEnv}`);
  const seed = fromEnv ? Number(fromEnv) >>> 0 : Math.floor(Math.random() * 4294967296) >>> 0;
  const featureLevel = env.PORTABLE_FEATURE_LEVEL === 'compatibility' ? 'compatibility' : undefined;
  return { part, seed, differentialCases, featureLevel };
}

/** The whole of a runner after it has its `GPU`: run, print, and the exit status (0 only when clean). */
export async function main(implementation: string, gpu: GPU, args: string[], env: Record<string, string | undefined>): Promise<number> {
  const options = parseArgs(args, env);
  const summary = await runPortable(gpu, options);
  console.log(formatSummary(implementation, summary));
  return summary.failures.length === 0 && (summary.cases > 0 || options.part === 'probe') ? 0 : 1;
}
