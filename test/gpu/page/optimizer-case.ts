/**
 * One optimizer case, run inside the page: the GPU optimizer and the CPU optimizer take the same
 * steps on the same seeded parameters and per-step gradients; returns the checks for Node to assert,
 * and how many GPU objects each step created.
 */
import { createCpuOptimizer, createGpuOptimizer, type OptimizerOptions, type OptimizerState, type StateName } from '../../../src/index';
import { type GpuOptimizerTuning } from '../../../src/advanced';
import { pipelineCount } from '../../../src/gpu/pipelines';
import { checkClose, maxErrors, type ToleranceSpec } from '../../support/compare';
import { centredConditioning, EPS32, foldedError, gradientError, OPTIM_ATOL, P_TERMS, S_TERMS, throughUpdate, U_TERMS } from '../../support/optim-tolerances';
import { resolveOptimizerOptions } from '../../../src/optim/options';
import { caseSeed, createRng, normals } from '../../support/random';
import { readBuffer, storageBuffer } from './gpu-buffers';
import { countedDevice, scoped } from './optimizer-device';

export interface OptimizerCase {
  name: string;
  seed: number;
  options: OptimizerOptions;
  lengths: number[];
  steps: number;
  tuning?: GpuOptimizerTuning;
  /** setLearningRate(lr) on both optimizers before step `index` (0-based): a scheduler. */
  schedule?: [index: number, lr: number][];
  /** Register the last parameter only before this step, so it starts later than the others. */
  lateParamAt?: number;
  /** Before this step, export the GPU state, destroy the optimizer and import into a new one. */
  reloadAt?: number;
}

export interface OptimizerCheck {
  output: string;
  failure: string | null;
  maxAbs: number;
  maxRel: number;
  /** Largest |gpu − cpu| / allowed (1 is at the tolerance). */
  toleranceUsed: number;
}

export interface OptimizerReport {
  checks: OptimizerCheck[];
  gpuSteps: number[];
  cpuSteps: number[];
  /** GPU objects created inside each step (gradient upload, lr change, encode, submit). */
  perStep: { buffers: number[]; bindGroups: number[]; pipelines: number[] };
  liveBuffers: { afterSetup: number; atEnd: number };
  maxWorkgroupsPerDimension: number;
  gpuErrors: string[];
}

function toleranceUsed(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: (i: number) => number): number {
  let used = 0;
  for (let i = 0; i < expected.length; i++) {
    const diff = Math.abs(actual[i] - expected[i]);
    if (diff > 0) used = Math.max(used, diff / tol(i));
  }
  return used;
}

function check(output: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tol: (i: number) => number): OptimizerCheck {
  const failure = checkClose(actual, expected, tol as ToleranceSpec, output);
  return { output, failure: failure ? failure.message : null, ...maxErrors(actual, expected), toleranceUsed: toleranceUsed(actual, expected, tol) };
}

/** Largest |value| seen per element, over the CPU trajectory. */
function track(into: Float64Array, values: ArrayLike<number>, minus?: ArrayLike<number>): void {
  for (let i = 0; i < into.length; i++) {
    const v = Math.abs(minus ? values[i] - minus[i] : values[i]);
    if (v > into[i]) into[i] = v;
  }
}

/** Per-element tolerance terms that depend on the CPU trajectory (optim-tolerances.ts). */
interface Conditioning {
  /** Centred RMSprop's largest s / (s − a²); 1 elsewhere. */
  kappa: Float64Array[];
  /** Σ over steps of the weight-decayed gradient's error, through the update (throughUpdate). */
  gradient: Float64Array[];
  /** The largest error that error leaves in an average of g, and of g² (foldedError). */
  firstMoment: Float64Array[];
  secondMoment: Float64Array[];
}

/** The states that average g, and g² (their g error: foldedError). */
const averagesOfG: readonly string[] = ['gradAvg', 'expAvg'];
const averagesOfSquares: readonly string[] = ['squareAvg', 'expAvgSq', 'maxExpAvgSq'];

function compareStates(label: string, gpu: OptimizerState, cpu: OptimizerState, maxS: Map<string, Float64Array>, c: Conditioning, steps: number): OptimizerCheck[] {
  const checks: OptimizerCheck[] = [];
  cpu.params.forEach((cpuParam, position) => {
    const k = Number(cpuParam.label.slice(1));
    for (const [name, expected] of Object.entries(cpuParam.buffers) as [StateName, Float32Array][]) {
      const scale = maxS.get(`${k}:${name}`)!;
      // The momentum buffer folds in the update, and with it the update's conditioning.
      const folds = name === 'momentumBuffer';
      const carried = folds ? c.gradient[k] : averagesOfG.includes(name) ? c.firstMoment[k] : averagesOfSquares.includes(name) ? c.secondMoment[k] : undefined;
      const tol = (i: number) => steps * EPS32 * S_TERMS * scale[i] * (folds ? c.kappa[k][i] : 1) + (carried ? carried[i] : 0) + OPTIM_ATOL;
      checks.push(check(`${label} p${k}.${name}`, gpu.params[position]?.buffers[name] ?? [], expected, tol));
    }
  });
  return checks;
}

export async function runOptimizerCase(spec: OptimizerCase): Promise<OptimizerReport> {
  const { device, counts } = await countedDevice();
  const { result, gpuErrors } = await scoped(device, () => runCase(device, counts, spec));
  return { ...result, gpuErrors };
}

async function runCase(device: GPUDevice, counts: { buffers: number; bindGroups: number }, spec: OptimizerCase): Promise<Omit<OptimizerReport, 'gpuErrors'>> {
  const rng = createRng(caseSeed(spec.seed, spec.name));
  const n = spec.lengths.length;
  // Gradients of different magnitudes per parameter (1, 0.01, 100, …) so no scale is special.
  const gradScale = spec.lengths.map((_, k) => [1, 0.01, 100][k % 3]);
  const initial = spec.lengths.map((length) => normals(rng, length));
  const gpuParams = initial.map((p, k) => storageBuffer(device, `optim.param${k}`, p));
  const gpuGrads = spec.lengths.map((length, k) => storageBuffer(device, `optim.grad${k}`, new Float32Array(length)));
  const cpuParams = initial.map((p) => p.slice());
  const cpuGrads = spec.lengths.map((length) => new Float32Array(length));
  const late = spec.lateParamAt === undefined ? -1 : n - 1;
  const active = new Set<number>();
  let gpu = createGpuOptimizer(device, spec.options, spec.tuning);
  const cpu = createCpuOptimizer(spec.options);
  const registerGpu = (k: number) => gpu.addParam(gpuParams[k], gpuGrads[k], spec.lengths[k], `p${k}`);
  for (let k = 0; k < n; k++) {
    if (k === late) continue;
    registerGpu(k);
    cpu.addParam(cpuParams[k], cpuGrads[k], `p${k}`);
    active.add(k);
  }
  const liveAfterSetup = gpu.liveBuffers;

  const maxP = initial.map((p) => Float64Array.from(p, Math.abs));
  const maxU = spec.lengths.map((length) => new Float64Array(length));
  const maxS = new Map<string, Float64Array>();
  const conditioning: Conditioning = {
    kappa: spec.lengths.map((length) => new Float64Array(length).fill(1)),
    gradient: spec.lengths.map((length) => new Float64Array(length)),
    firstMoment: spec.lengths.map((length) => new Float64Array(length)),
    secondMoment: spec.lengths.map((length) => new Float64Array(length)),
  };
  const resolved = resolveOptimizerOptions(spec.options);
  let maxLr = resolved.lr;
  const schedule = new Map(spec.schedule ?? []);
  const perStep: OptimizerReport['perStep'] = { buffers: [], bindGroups: [], pipelines: [] };
  // The parameter tolerance after `steps` steps, from the CPU trajectory so far (optim-tolerances.ts).
  const paramTolerance = (k: number, steps: number, i: number) =>
    steps * EPS32 * (P_TERMS * maxP[k][i] + U_TERMS * conditioning.kappa[k][i] * maxU[k][i]) + maxLr * conditioning.gradient[k][i];
  const checks: OptimizerCheck[] = [];

  for (let step = 0; step < spec.steps; step++) {
    if (step === spec.lateParamAt) {
      registerGpu(late);
      cpu.addParam(cpuParams[late], cpuGrads[late], `p${late}`);
      active.add(late);
    }
    if (step === spec.reloadAt) {
      const saved = await gpu.exportState();
      checks.push(...compareStates(`exported before step ${step}:`, saved, cpu.exportState(), maxS, conditioning, step));
      gpu.destroy();
      gpu = createGpuOptimizer(device, { ...spec.options, lr: 12345 } as OptimizerOptions, spec.tuning);
      for (const k of [...active].sort((a, b) => a - b)) registerGpu(k);
      gpu.importState(saved);
    }
    const grads = spec.lengths.map((length, k) => (active.has(k) ? normals(rng, length, 0, gradScale[k]) : undefined));
    const before = { ...counts, pipelines: pipelineCount(device) };
    // --- one training step as an application records it ---
    grads.forEach((g, k) => g && device.queue.writeBuffer(gpuGrads[k], 0, g as Float32Array<ArrayBuffer>));
    const lr = schedule.get(step);
    if (lr !== undefined) gpu.setLearningRate(lr);
    const encoder = device.createCommandEncoder({ label: `test.optimizer.step${step}` });
    gpu.encodeStep(encoder);
    device.queue.submit([encoder.finish()]);
    // ---
    perStep.buffers.push(counts.buffers - before.buffers);
    perStep.bindGroups.push(counts.bindGroups - before.bindGroups);
    perStep.pipelines.push(pipelineCount(device) - before.pipelines);

    grads.forEach((g, k) => g && cpuGrads[k].set(g));
    if (lr !== undefined) cpu.setLearningRate(lr);
    if (lr !== undefined) maxLr = Math.max(maxLr, lr);
    const previous = cpuParams.map((p) => p.slice());
    // Each parameter's error before this step (its tolerance so far), which weight decay carries into g.
    const pErrors = cpuParams.map((p, k) => Float64Array.from(p, (_, i) => paramTolerance(k, step, i)));
    cpu.step();
    cpuParams.forEach((p, k) => {
      track(maxP[k], p);
      track(maxU[k], p, previous[k]);
    });
    for (const state of cpu.exportState().params) {
      const k = Number(state.label.slice(1));
      if (state.buffers.squareAvg) centredConditioning(state.buffers.squareAvg, state.buffers.gradAvg, conditioning.kappa[k]);
      const gError = gradientError(resolved, cpuGrads[k], previous[k], pErrors[k]);
      throughUpdate(resolved, gError, state.buffers, state.step, conditioning.gradient[k]);
      foldedError(resolved, gError, cpuGrads[k], previous[k], conditioning.firstMoment[k], conditioning.secondMoment[k]);
      for (const [name, values] of Object.entries(state.buffers)) {
        const key = `${k}:${name}`;
        if (!maxS.has(key)) maxS.set(key, new Float64Array(values.length));
        track(maxS.get(key)!, values);
      }
    }
  }

  const T = spec.steps;
  for (let k = 0; k < n; k++) {
    const actual = await readBuffer(device, gpuParams[k], spec.lengths[k]);
    const tol = (i: number) => paramTolerance(k, T, i) + OPTIM_ATOL;
    checks.push(check(`p${k} (length ${spec.lengths[k]})`, actual, cpuParams[k], tol));
  }
  const gpuState = await gpu.exportState();
  const cpuState = cpu.exportState();
  checks.push(...compareStates('final', gpuState, cpuState, maxS, conditioning, T));
  if (JSON.stringify(gpuState.options) !== JSON.stringify(cpuState.options)) {
    checks.push({ output: 'options', failure: `GPU ${JSON.stringify(gpuState.options)} vs CPU ${JSON.stringify(cpuState.options)}`, maxAbs: 0, maxRel: 0, toleranceUsed: 0 });
  }
  const liveAtEnd = gpu.liveBuffers;
  gpu.destroy();
  for (const buffer of [...gpuParams, ...gpuGrads]) buffer.destroy();
  return {
    checks,
    gpuSteps: gpuState.params.map((p) => p.step),
    cpuSteps: cpuState.params.map((p) => p.step),
    perStep,
    liveBuffers: { afterSetup: liveAfterSetup, atEnd: liveAtEnd },
    maxWorkgroupsPerDimension: device.limits.maxComputeWorkgroupsPerDimension,
  };
}
