/**
 * Device loss in the middle of a training loop (two BatchNorm layers, one Adam optimizer, a
 * TrainingMirror capturing every step), against a control run that never loses its device:
 * - loss: the device is destroyed right after three steps submitted back to back, so their
 *   snapshots are still in flight; the engine's 'devicelost' listener must already see the mirror on
 *   its CPU twins, holding bit for bit the control run's state at the last committed step;
 * - the loop replays from there on the CPU; bn.recover() moves the state to a new device bit for bit
 *   (and a loss right after recovery falls back to that same state); the run ends on the GPU close
 *   to the control run (its CPU steps round differently).
 * Also measures what capture() costs per step.
 */
import { BatchNormLayer, createBatchNorm, createGpuOptimizer, createTrainingMirror, type BatchNorm, type TrainingMirror, type TrainingSnapshot } from '../../../src/index';
import { batchOf, cpuStep, GpuNetwork, layerSpecs } from './recovery-network';
import { readBuffer, storageBuffer } from './gpu-buffers';

export interface RecoveryCase {
  seed: number;
  steps: number;
  lossAfter: number;
  recoverAfter: number;
}

export interface RecoveryReport {
  events: { kind: string; reason?: string; mirrorBackend: string; step: number; committedStep: number }[];
  /** Steps submitted when the device was destroyed, and the step the CPU twins resumed after. */
  stepAtLoss: number;
  resumedAfter: number;
  /** Bit-for-bit comparisons; each lists the fields that differ ([] = identical). */
  takeoverVsControl: string[];
  recoveredVsCpu: string[];
  secondTakeoverVsCpu: string[];
  secondTakeoverStep: number;
  stepsOnCpu: number;
  finalBackend: string;
  /** max |final − control| relative to 1e-5 + 1e-4·|control| (≤ 1 passes), per kind of value. */
  finalDeviation: Record<string, number>;
  mirrorCounts: TrainingMirror['counts'];
  cost: { stepsTimed: number; plainMs: number; mirroredMs: number; plainMinMs: number; mirroredMinMs: number; captureHostMs: number; snapshotBytes: number; elements: number };
}

const yieldToEventLoop = () => new Promise((resolve) => setTimeout(resolve, 0));

async function setUp(bn: BatchNorm) {
  const kernels = bn.gpu!;
  const layers = layerSpecs.map((spec) => new BatchNormLayer(kernels, spec.options));
  const optimizer = createGpuOptimizer(kernels.device, { kind: 'adam', lr: 0.05 });
  layers.forEach((layer, k) => {
    optimizer.addParam(layer.weight!, layer.weightGrad!, layer.numFeatures, `l${k}.weight`);
    optimizer.addParam(layer.bias!, layer.biasGrad!, layer.numFeatures, `l${k}.bias`);
  });
  const mirror = await createTrainingMirror(bn, { layers, optimizers: [optimizer] });
  return { mirror, network: new GpuNetwork(kernels.device) };
}

/** Every float of two snapshots compared by bits; returns the names of those that differ. */
export function snapshotDiff(a: TrainingSnapshot, b: TrainingSnapshot): string[] {
  const diffs: string[] = [];
  const bits = (name: string, x: Float32Array | undefined, y: Float32Array | undefined) => {
    const same = x === undefined ? y === undefined : !!y && x.length === y.length && new Uint32Array(x.buffer, x.byteOffset, x.length).every((v, i) => v === new Uint32Array(y.buffer, y.byteOffset, y.length)[i]);
    if (!same) diffs.push(name);
  };
  if (a.step !== b.step) diffs.push(`step ${a.step} ≠ ${b.step}`);
  a.layers.forEach((la, k) => {
    const lb = b.layers[k];
    for (const name of ['weight', 'bias', 'running_mean', 'running_var'] as const) bits(`layer${k}.${name}`, la.state[name], lb.state[name]);
    bits(`layer${k}.grad.weight`, la.grads.weight, lb.grads.weight);
    bits(`layer${k}.grad.bias`, la.grads.bias, lb.grads.bias);
    if (la.state.num_batches_tracked !== lb.state.num_batches_tracked) diffs.push(`layer${k}.num_batches_tracked`);
    if (la.training !== lb.training) diffs.push(`layer${k}.training`);
  });
  a.optimizers.forEach((oa, k) => {
    const ob = b.optimizers[k];
    if (oa.options.lr !== ob.options.lr) diffs.push(`optimizer${k}.lr`);
    oa.params.forEach((pa, i) => {
      const pb = ob.params[i];
      if (pa.step !== pb.step) diffs.push(`optimizer${k}.${pa.label}.step`);
      for (const name of Object.keys(pa.buffers) as (keyof typeof pa.buffers)[]) bits(`optimizer${k}.${pa.label}.${name}`, pa.buffers[name], pb.buffers[name]);
    });
  });
  return diffs;
}

/** The GPU side's state read straight from its buffers (not through the mirror). */
async function readGpuState(mirror: TrainingMirror, step: number): Promise<TrainingSnapshot> {
  const { layers, optimizers } = mirror.gpu!;
  return {
    step,
    layers: await Promise.all(
      layers.map(async (layer) => ({
        state: await layer.stateDict(),
        grads: { weight: await readBuffer(layer.gpu.device, layer.weightGrad!, layer.numFeatures), bias: await readBuffer(layer.gpu.device, layer.biasGrad!, layer.numFeatures) },
        training: layer.training,
      })),
    ),
    optimizers: await Promise.all(optimizers.map((o) => o.exportState())),
  };
}

async function controlRun(spec: RecoveryCase): Promise<TrainingSnapshot[]> {
  const bn = await createBatchNorm({ backend: 'webgpu' });
  const { mirror, network } = await setUp(bn);
  const states = [mirror.committed()];
  for (let step = 1; step <= spec.steps; step++) {
    network.step(mirror.gpu!.layers, mirror.gpu!.optimizers[0], [0, 1].map((k) => batchOf(spec.seed, k, step)));
    mirror.capture();
    await mirror.flush();
    states.push(mirror.committed());
  }
  network.destroy();
  mirror.dispose();
  bn.dispose();
  return states;
}

/** Time per step with and without capture(), on a larger layer (C = 32, 32 768 values). */
async function measureCost(): Promise<RecoveryReport['cost']> {
  const bn = await createBatchNorm({ backend: 'webgpu' });
  const kernels = bn.gpu!;
  const device = kernels.device;
  const shape = [32, 32, 8, 4];
  const n = 32 * 32 * 8 * 4;
  const layer = new BatchNormLayer(kernels, { numFeatures: 32, layout: 'NCHW', activation: 'relu' });
  const optimizer = createGpuOptimizer(device, { kind: 'adam', lr: 1e-3 });
  optimizer.addParam(layer.weight!, layer.weightGrad!, 32);
  optimizer.addParam(layer.bias!, layer.biasGrad!, 32);
  const mirror = await createTrainingMirror(bn, { layers: [layer], optimizers: [optimizer] });
  const x = storageBuffer(device, 'cost.x', Float32Array.from({ length: n }, (_, i) => Math.sin(i)));
  const [y, dy, dx] = ['y', 'dy', 'dx'].map((name) => storageBuffer(device, `cost.${name}`, new Float32Array(n).fill(0.01)));
  const step = () => {
    const encoder = device.createCommandEncoder({ label: 'test.cost.step' });
    layer.zeroGrad(encoder);
    layer.forward(encoder, x, y, shape);
    layer.backward(encoder, dy, dx);
    optimizer.encodeStep(encoder);
    device.queue.submit([encoder.finish()]);
  };
  const stepsTimed = 40;
  let captureHostMs = 0;
  const timed = async (withMirror: boolean) => {
    const start = performance.now();
    for (let s = 0; s < stepsTimed; s++) {
      step();
      if (withMirror) {
        const t = performance.now();
        mirror.capture();
        captureHostMs += performance.now() - t;
      }
      await yieldToEventLoop();
    }
    await device.queue.onSubmittedWorkDone();
    await mirror.flush();
    return (performance.now() - start) / stepsTimed;
  };
  await timed(true); // warm-up: pipelines, staging buffers
  captureHostMs = 0;
  // Interleaved repetitions, medians and minima: SwiftShader shares the CPU with everything else.
  const reps = 5;
  const plain: number[] = [];
  const mirrored: number[] = [];
  for (let r = 0; r < reps; r++) {
    plain.push(await timed(false));
    mirrored.push(await timed(true));
  }
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
  const cost = {
    stepsTimed: reps * stepsTimed,
    plainMs: median(plain),
    mirroredMs: median(mirrored),
    plainMinMs: Math.min(...plain),
    mirroredMinMs: Math.min(...mirrored),
    captureHostMs: captureHostMs / (reps * stepsTimed),
    snapshotBytes: mirror.snapshotBytes,
    elements: n,
  };
  for (const buffer of [x, y, dy, dx]) buffer.destroy();
  mirror.dispose();
  optimizer.destroy();
  layer.destroy();
  bn.dispose();
  return cost;
}

export async function runRecoveryCase(spec: RecoveryCase): Promise<RecoveryReport> {
  const control = await controlRun(spec);

  const bn = await createBatchNorm({ backend: 'webgpu' });
  let { mirror, network } = await setUp(bn);
  const events: RecoveryReport['events'] = [];
  let lastEvent: Promise<void> = Promise.resolve();
  let signal: () => void = () => {};
  const nextEvent = () => (lastEvent = new Promise<void>((resolve) => (signal = resolve)));
  nextEvent();
  bn.addEventListener('devicelost', (event) => {
    const { reason } = (event as CustomEvent<{ reason: string }>).detail;
    events.push({ kind: 'devicelost', reason, mirrorBackend: mirror.backend, step: mirror.step, committedStep: mirror.committedStep });
    signal();
  });
  bn.addEventListener('recovered', () => events.push({ kind: 'recovered', mirrorBackend: mirror.backend, step: mirror.step, committedStep: mirror.committedStep }));

  let stepAtLoss = -1;
  let resumedAfter = -1;
  let takeoverVsControl: string[] = ['no takeover'];
  let recoveredVsCpu: string[] = ['no recovery'];
  let secondTakeoverVsCpu: string[] = ['no second takeover'];
  let secondTakeoverStep = -1;
  let stepsOnCpu = 0;
  let recovered = false;
  while (mirror.step < spec.steps) {
    const step = mirror.step + 1;
    const batches = [0, 1].map((k) => batchOf(spec.seed, k, step));
    if (mirror.backend === 'webgpu') {
      network.step(mirror.gpu!.layers, mirror.gpu!.optimizers[0], batches);
    } else {
      cpuStep(mirror.cpu!.layers, mirror.cpu!.optimizers[0], batches);
      stepsOnCpu += 1;
    }
    mirror.capture();
    // Everything up to lossAfter − 3 committed, then three steps back to back: their snapshots are
    // still in flight when the device is destroyed.
    if (step === spec.lossAfter - 3) await mirror.flush();
    if (step >= spec.lossAfter - 3 && step < spec.lossAfter) continue;
    if (step === spec.lossAfter && stepAtLoss < 0) {
      stepAtLoss = step;
      bn.gpu!.device.destroy();
      await lastEvent;
      resumedAfter = mirror.step;
      takeoverVsControl = snapshotDiff(mirror.committed(), control[mirror.step]);
      network.destroy();
      continue;
    }
    if (step === spec.recoverAfter && !recovered) {
      recovered = true;
      const before = mirror.committed();
      await bn.recover();
      recoveredVsCpu = snapshotDiff(await readGpuState(mirror, mirror.step), before);
      // Lost again before any capture on the new device commits: back to that same state.
      nextEvent();
      bn.gpu!.device.destroy();
      await lastEvent;
      secondTakeoverStep = mirror.step;
      secondTakeoverVsCpu = snapshotDiff(mirror.committed(), before);
      await bn.recover();
      network = new GpuNetwork(bn.gpu!.device);
      continue;
    }
    await yieldToEventLoop();
  }
  await mirror.flush();
  const final = mirror.committed();
  const finalBackend = mirror.backend;
  const finalDeviation = deviation(final, control[spec.steps]);
  const report = {
    events,
    stepAtLoss,
    resumedAfter,
    takeoverVsControl,
    recoveredVsCpu,
    secondTakeoverVsCpu,
    secondTakeoverStep,
    stepsOnCpu,
    finalBackend,
    finalDeviation,
    mirrorCounts: mirror.counts,
  };
  network.destroy();
  mirror.dispose();
  bn.dispose();
  return { ...report, cost: await measureCost() };
}

/** Largest |a − b| / (1e-5 + 1e-4·|b|) per kind of value, over layers. */
function deviation(a: TrainingSnapshot, b: TrainingSnapshot): Record<string, number> {
  const out: Record<string, number> = {};
  const worst = (kind: string, x?: Float32Array, y?: Float32Array) => {
    if (!x || !y) return;
    let w = 0;
    for (let i = 0; i < y.length; i++) w = Math.max(w, Math.abs(x[i] - y[i]) / (1e-5 + 1e-4 * Math.abs(y[i])));
    out[kind] = Math.max(out[kind] ?? 0, w);
  };
  a.layers.forEach((l, k) => {
    for (const name of ['weight', 'bias', 'running_mean', 'running_var'] as const) worst(name, l.state[name], b.layers[k].state[name]);
  });
  out.num_batches_tracked = a.layers.every((l, k) => l.state.num_batches_tracked === b.layers[k].state.num_batches_tracked) ? 0 : Infinity;
  out.optimizer_steps = a.optimizers[0].params.every((p, i) => p.step === b.optimizers[0].params[i].step) ? 0 : Infinity;
  return out;
}
