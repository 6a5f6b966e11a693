/**
 * Autotuning inside the page: an engine with autotune on against one without (same inputs, same
 * device kind), the report of bn.gpu.autotune, what the store kept, a second engine that finds it
 * there, localStorage round trips, a device without timestamp-query, and the timer's batches.
 */
import { createBatchNorm, localStorageTuningStore, memoryTuningStore, type AutotuneReport, type BatchNorm, type Layout, type TuningStore } from '../../../src/index';
import { tuningStoreKey } from '../../../src/gpu/tuning-store';
import { GpuBatchNorm } from '../../../src/gpu/gpu-batchnorm';
import { resolveTuning } from '../../../src/gpu/tuning';
import { GpuTimer } from '../../../src/gpu/gpu-timer';
import { countDispatches } from './dispatch-counter';
import { caseSeed, createRng, normals } from '../../support/random';

interface Shape {
  shape: number[];
  layout: Layout;
}

export interface AutotuneCaseArgs {
  seed: number;
  shapes: Shape[];
}

export interface EngineOutputs {
  /** Per shape: y of forwardTrain, y of forwardInference, dx, dgamma, dbeta. */
  outputs: Record<string, Float32Array>[];
}

export interface AutotuneCaseReport {
  adapterHasTimestamps: boolean;
  deviceHasTimestamps: boolean;
  /** Largest |on − off| per output name over every shape. */
  maxDiff: Record<string, number>;
  /** Largest |off| per output name (the scale the differences compare to). */
  maxMagnitude: Record<string, number>;
  /** Every output of both engines was finite. */
  finite: boolean;
  /** What the store holds for the adapter after the calls (class → overrides). */
  stored: Record<string, unknown>;
  /** bn.gpu.autotune on the same shapes, after the calls: every class is already known. */
  again: AutotuneReport;
  /** A second engine on the same store: the same classes, found there. */
  second: AutotuneReport;
  /** gpu.autotune with { force: true } on the first shape: timed again. */
  forced: AutotuneReport;
  /** tuningFor each family and shape equals the chosen overrides laid over gpu.tuning. */
  tuningForMatches: boolean;
}

async function runAll(bn: BatchNorm, seed: number, shapes: Shape[]): Promise<EngineOutputs> {
  const outputs: Record<string, Float32Array>[] = [];
  for (const [i, { shape, layout }] of shapes.entries()) {
    const rng = createRng(caseSeed(seed, `autotune ${i}`));
    const size = shape.reduce((a, b) => a * b, 1);
    const C = shape[layout.indexOf('C')];
    const x = normals(rng, size, 3, 2);
    const dy = normals(rng, size, 0, 1);
    const gamma = normals(rng, C, 1, 0.5);
    const beta = normals(rng, C, 0, 0.5);
    const runningMean = normals(rng, C, 3, 0.1);
    const runningVar = Float32Array.from(normals(rng, C, 4, 0.5), Math.abs);
    const opts = { shape, layout, gamma, beta };
    const train = await bn.forwardTrain(x, { ...opts, runningMean: runningMean.slice(), runningVar: runningVar.slice() });
    const inference = await bn.forwardInference(x, { ...opts, runningMean, runningVar });
    const grads = await bn.backward(dy, x, opts, train);
    outputs.push({ train: train.y, mean: train.mean, invStd: train.invStd, inference, dx: grads.dx, dgamma: grads.dgamma, dbeta: grads.dbeta });
  }
  return { outputs };
}

export async function runAutotuneCase(args: AutotuneCaseArgs): Promise<AutotuneCaseReport> {
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter');
  const store = memoryTuningStore();
  const on = await createBatchNorm({ backend: 'webgpu', autotune: { store } });
  const off = await createBatchNorm({ backend: 'webgpu' });
  try {
    const a = await runAll(on, args.seed, args.shapes);
    const b = await runAll(off, args.seed, args.shapes);
    const maxDiff: Record<string, number> = {};
    const maxMagnitude: Record<string, number> = {};
    let finite = true;
    for (const [i, outputs] of a.outputs.entries()) {
      for (const [name, values] of Object.entries(outputs)) {
        const reference = b.outputs[i][name];
        for (let k = 0; k < values.length; k++) {
          if (!Number.isFinite(values[k]) || !Number.isFinite(reference[k])) finite = false;
          maxDiff[name] = Math.max(maxDiff[name] ?? 0, Math.abs(values[k] - reference[k]));
          maxMagnitude[name] = Math.max(maxMagnitude[name] ?? 0, Math.abs(reference[k]));
        }
      }
    }
    const gpu = on.gpu!;
    const key = tuningStoreKey(on.adapter!);
    const stored = ((await store.load(key)) ?? {}) as Record<string, unknown>;
    const again = await gpu.autotune(args.shapes);
    const secondEngine = await createBatchNorm({ backend: 'webgpu', autotune: { store } });
    const second = await secondEngine.gpu!.autotune(args.shapes);
    secondEngine.dispose();
    let tuningForMatches = again.classes.length > 0;
    for (const c of again.classes) {
      for (const shape of args.shapes.filter((s) => c.shapes.some((v) => v.join() === viewShapeOf(s).join()))) {
        if (canonical(gpu.tuningFor(c.family, shape)) !== canonical({ ...gpu.tuning, ...c.chosen })) tuningForMatches = false;
      }
    }
    const forced = await gpu.autotune(args.shapes.slice(0, 1), { force: true, families: ['inference'] });
    return {
      adapterHasTimestamps: adapter.features.has('timestamp-query'),
      deviceHasTimestamps: gpu.device.features.has('timestamp-query'),
      maxDiff,
      maxMagnitude,
      finite,
      stored,
      again,
      second,
      forced,
      tuningForMatches,
    };
  } finally {
    on.dispose();
    off.dispose();
  }
}

function canonical(value: object): string {
  return JSON.stringify(Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b))));
}

function viewShapeOf({ shape, layout }: Shape): number[] {
  const axis = layout.indexOf('C');
  const prod = (values: number[]) => values.reduce((a, b) => a * b, 1);
  return [prod(shape.slice(0, axis)), shape[axis], prod(shape.slice(axis + 1))];
}

export interface NoTimestampsReport {
  deviceHasTimestamps: boolean;
  report: AutotuneReport;
  /** tuningFor every family equals the engine's heuristic tuning. */
  heuristicsKept: boolean;
  /** Largest |y − y of an engine without autotune|. */
  maxDiff: number;
  nothingStored: boolean;
}

/** A device created without timestamp-query: autotune times nothing, says so, and keeps the heuristics. */
export async function runNoTimestampsCase(args: AutotuneCaseArgs): Promise<NoTimestampsReport> {
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter');
  const device = await adapter.requestDevice({ label: 'test.noTimestamps.device' });
  const store: TuningStore = memoryTuningStore();
  const bn = await createBatchNorm({ backend: 'webgpu', device, autotune: { store } });
  const off = await createBatchNorm({ backend: 'webgpu', device });
  try {
    const shape = args.shapes[0];
    const rng = createRng(caseSeed(args.seed, 'no timestamps'));
    const x = normals(rng, shape.shape.reduce((a, b) => a * b, 1), 1, 2);
    const y = (await bn.forwardTrain(x, shape)).y;
    const yOff = (await off.forwardTrain(x, shape)).y;
    const report = await bn.gpu!.autotune(args.shapes);
    const gpu = bn.gpu!;
    const heuristicsKept = (['forwardTrain', 'backward', 'inference'] as const).every((family) =>
      args.shapes.every((s) => JSON.stringify(gpu.tuningFor(family, s)) === JSON.stringify(gpu.tuning)),
    );
    let maxDiff = 0;
    for (let i = 0; i < y.length; i++) maxDiff = Math.max(maxDiff, Math.abs(y[i] - yOff[i]));
    const stored = await store.load(tuningStoreKey(bn.adapter!));
    return { deviceHasTimestamps: device.features.has('timestamp-query'), report, heuristicsKept, maxDiff, nothingStored: stored === undefined };
  } finally {
    bn.dispose();
    off.dispose();
    device.destroy();
  }
}

/** localStorage round trip: what one store object saves, a new one over the same storage loads. */
export async function runLocalStorageCase(): Promise<{ loaded: unknown; otherKey: unknown; corrupt: unknown }> {
  const prefix = `test.tuning.${Math.random()}:`;
  localStorageTuningStore(localStorage, prefix).save('adapter A', { 'forwardTrain/rows/4MiB': { blockedRows: true, statsTargetThreads: 2048 } });
  const loaded = await localStorageTuningStore(localStorage, prefix).load('adapter A');
  const otherKey = await localStorageTuningStore(localStorage, prefix).load('adapter B');
  localStorage.setItem(`${prefix}adapter C`, '{not json');
  const corrupt = await localStorageTuningStore(localStorage, prefix).load('adapter C');
  for (const key of ['adapter A', 'adapter C']) localStorage.removeItem(prefix + key);
  return { loaded, otherKey, corrupt };
}

export interface TunedDispatchReport {
  /** Per engine: what bn.gpu.dispatchCount says, and the launches one encodeForwardTrain records. */
  heuristic: { reported: number; recorded: number };
  tuned: { reported: number; recorded: number; classSource: string };
}

/**
 * dispatchCount plans as the call does, with its size class's autotuned launch shapes: a stored
 * class that changes the plan (here: NCHW with runs of 8 values, which take one dispatch with the
 * register kernels (runSegments false) and three kernels with the serial ones, whose runs must be
 * SERIAL_MIN_RUN long) changes the count, and the count is what the encoder records.
 */
export async function runTunedDispatchCountCase(): Promise<TunedDispatchReport> {
  const shape = [32, 8, 2, 4];
  const layout = 'NCHW' as const;
  const store = memoryTuningStore();
  const plain = await createBatchNorm({ backend: 'webgpu', tuning: { oneDispatch: true } });
  const tunedEngine = await createBatchNorm({ backend: 'webgpu', tuning: { oneDispatch: true }, autotune: { store } });
  try {
    await store.save(tuningStoreKey(tunedEngine.adapter!), { 'forwardTrain/runs/4KiB': { runSegments: !plain.gpu!.tuning.runSegments } });
    const [found] = (await tunedEngine.gpu!.autotune([{ shape, layout }], { families: ['forwardTrain'] })).classes;
    const measure = async (bn: BatchNorm) => {
      const gpu = bn.gpu!;
      const size = shape.reduce((a, b) => a * b, 1);
      const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
      const x = gpu.device.createBuffer({ label: 'test.x', size: size * 4, usage });
      const y = gpu.device.createBuffer({ label: 'test.y', size: size * 4, usage });
      const stats = gpu.createStatsBuffer(8, 'test.stats');
      const encoder = gpu.device.createCommandEncoder({ label: 'test.count' });
      const { dispatches: recorded } = await countDispatches(() => gpu.encodeForwardTrain(encoder, { shape, layout, x, y, stats }));
      gpu.device.queue.submit([encoder.finish()]);
      await gpu.checkErrors();
      for (const buffer of [x, y, stats]) buffer.destroy();
      return { reported: gpu.dispatchCount('forwardTrain', { shape, layout }), recorded };
    };
    return { heuristic: await measure(plain), tuned: { ...(await measure(tunedEngine)), classSource: `${found.sizeClass}: ${found.source}` } };
  } finally {
    plain.dispose();
    tunedEngine.dispose();
  }
}

/** The largest |a − b| over paired outputs (tuned and untuned), and the largest |b| (their scale). */
function largestDifference(a: Float32Array[], b: Float32Array[]): { maxDiff: number; maxMagnitude: number } {
  let maxDiff = 0;
  let maxMagnitude = 0;
  for (const [k, values] of a.entries()) {
    for (let i = 0; i < values.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(values[i] - b[k][i]));
      maxMagnitude = Math.max(maxMagnitude, Math.abs(b[k][i]));
    }
  }
  return { maxDiff, maxMagnitude };
}

export interface ScreenedAutotuneReport {
  classes: AutotuneReport['classes'];
  /** Largest |tuned − untuned| of y and dx, and the largest |untuned| (their scale). */
  maxDiff: number;
  maxMagnitude: number;
}

/**
 * A class whose tensor is large enough to be screened on a slice first (> 2 MiB): the screening
 * runs, candidates far behind on the slice never run at full size, and the tuned engine still
 * computes what an untuned one does.
 */
export async function runScreenedAutotuneCase(args: { seed: number }): Promise<ScreenedAutotuneReport> {
  const shape = [5120, 128]; // 2.5 MiB
  const layout = 'NC' as const;
  const tuned = await createBatchNorm({ backend: 'webgpu', autotune: { store: memoryTuningStore() } });
  const plain = await createBatchNorm({ backend: 'webgpu' });
  try {
    const { classes } = await tuned.gpu!.autotune([{ shape, layout }], { families: ['forwardTrain', 'backward'] });
    const rng = createRng(caseSeed(args.seed, 'screened autotune'));
    const x = normals(rng, shape[0] * shape[1], 3, 2);
    const dy = normals(rng, x.length, 0, 1);
    const [a, b] = await Promise.all([tuned, plain].map(async (bn) => {
      const out = await bn.forwardTrain(x, { shape, layout });
      const { dx } = await bn.backward(dy, x, { shape, layout }, out);
      return [out.y, dx];
    }));
    return { classes, ...largestDifference(a, b) };
  } finally {
    tuned.dispose();
    plain.dispose();
  }
}

export interface SmallerClassFirstReport {
  /** The classes as reported: in the order of the shapes given (largest first here). */
  classes: AutotuneReport['classes'];
  /** The largest |tuned − untuned| of the 1 MiB tensor's y and dx, and the largest |untuned|. */
  maxDiff: number;
  maxMagnitude: number;
}

/**
 * An engine with a real GPU's heuristic tuning on this adapter (on a software adapter its launch
 * shapes are many times slower) tunes a 1 MiB and a 64 KiB NCHW tensor, given largest first: the
 * 64 KiB class is timed first, and the candidates it finds far behind do not run at 1 MiB. The tuned
 * engine still computes what the untuned one does.
 */
export async function runSmallerClassFirstCase(args: { seed: number }): Promise<SmallerClassFirstReport> {
  const layout = 'NCHW' as const;
  const large = [8, 32, 32, 32];
  const host = await createBatchNorm({ backend: 'webgpu' });
  const device = host.gpu!.device;
  const gpuDefaults = () => resolveTuning(undefined, device.limits.maxComputeInvocationsPerWorkgroup, {});
  const tuned = new GpuBatchNorm(device, gpuDefaults(), { store: memoryTuningStore() });
  const plain = new GpuBatchNorm(device, gpuDefaults(), { store: memoryTuningStore() });
  try {
    const { classes } = await tuned.autotune([{ shape: large, layout }, { shape: [2, 32, 16, 16], layout }], { families: ['forwardTrain', 'backward'] });
    const rng = createRng(caseSeed(args.seed, 'smaller class first'));
    const x = normals(rng, large.reduce((a, b) => a * b, 1), 3, 2);
    const dy = normals(rng, x.length, 0, 1);
    const [a, b] = await Promise.all([tuned, plain].map(async (gpu) => {
      const out = await gpu.forwardTrain(x, { shape: large, layout });
      const { dx } = await gpu.backward(dy, x, { shape: large, layout }, out);
      return [out.y, dx];
    }));
    return { classes, ...largestDifference(a, b) };
  } finally {
    tuned.destroy();
    plain.destroy();
    host.dispose();
  }
}

export interface DispatchChoiceReport {
  /** Autotuned classes of NCHW [2, 32, 16, 16] (one dispatch by the heuristics) and NC [1024, 128] (three kernels either way). */
  classes: AutotuneReport['classes'];
  /** The same shapes on an engine whose tuning sets oneDispatch: its classes' candidates. */
  pinned: AutotuneReport['classes'];
  /** dispatchCount of each family on the one-dispatch shape with the chosen tuning, by class. */
  chosenDispatches: Record<string, number>;
  /** Largest |tuned − untuned| of y (train, inference) and dx on the one-dispatch shape, and the largest |untuned|. */
  maxDiff: number;
  maxMagnitude: number;
}

/**
 * Whether a call takes one dispatch is a candidate where it changes what a class runs: offered
 * (and timed at full size) for a shape the heuristics run in one dispatch, not offered where the
 * call takes three kernels either way, nor when the caller set oneDispatch; whatever is chosen
 * computes what the heuristics do.
 */
export async function runDispatchChoiceCase(args: { seed: number }): Promise<DispatchChoiceReport> {
  const small = { shape: [2, 32, 16, 16], layout: 'NCHW' as const };
  const rows = { shape: [1024, 128], layout: 'NC' as const };
  const tuned = await createBatchNorm({ backend: 'webgpu', autotune: { store: memoryTuningStore() } });
  const plain = await createBatchNorm({ backend: 'webgpu' });
  const pinned = await createBatchNorm({ backend: 'webgpu', tuning: { oneDispatch: true }, autotune: { store: memoryTuningStore() } });
  try {
    const { classes } = await tuned.gpu!.autotune([small, rows]);
    const chosenDispatches = Object.fromEntries(
      (['forwardTrain', 'backward', 'inference'] as const).map((family) => [family, tuned.gpu!.dispatchCount(family, small)]),
    );
    const { classes: pinnedClasses } = await pinned.gpu!.autotune([small, rows], { families: ['forwardTrain'] });
    const rng = createRng(caseSeed(args.seed, 'dispatch choice'));
    const x = normals(rng, 2 * 32 * 16 * 16, 3, 2);
    const dy = normals(rng, x.length, 0, 1);
    const C = 32;
    const runningMean = normals(rng, C, 3, 0.1);
    const runningVar = Float32Array.from(normals(rng, C, 4, 0.5), Math.abs);
    const [a, b] = await Promise.all([tuned, plain].map(async (bn) => {
      const out = await bn.forwardTrain(x, small);
      const { dx } = await bn.backward(dy, x, small, out);
      const inference = await bn.forwardInference(x, { ...small, runningMean, runningVar });
      return [out.y, dx, inference];
    }));
    return { classes, pinned: pinnedClasses, chosenDispatches, ...largestDifference(a, b) };
  } finally {
    tuned.dispose();
    plain.dispose();
    pinned.dispose();
  }
}

export interface TimerBatchesReport {
  hasTimestamps: boolean;
  /** Per slot: how many times its batches' work ran (each call adds 1). */
  counts: number[];
  /** What batches() returned for the slots' batches, and for the many-batches call. */
  slotTimes: number[];
  manyTimes: number;
  manyFinite: boolean;
  /** What one more than GpuTimer.maxBatches gets: the error's name, and whether its work ran. */
  tooMany: string;
}

/**
 * GpuTimer.batches, which autotuning times its candidates with: batches of different sizes in one
 * submit each run exactly their k calls and get a time each; GpuTimer.maxBatches of them (the
 * query set grown to its largest) in one call; one more is refused before any work.
 */
export async function runTimerBatchesCase(args: { slots: number[] }): Promise<TimerBatchesReport> {
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter');
  const hasTimestamps = adapter.features.has('timestamp-query');
  if (!hasTimestamps) return { hasTimestamps, counts: [], slotTimes: [], manyTimes: 0, manyFinite: false, tooMany: 'none' };
  const device = await adapter.requestDevice({ label: 'test.timer.device', requiredFeatures: ['timestamp-query'] });
  const timer = new GpuTimer(device, 'test.timer');
  try {
    const slotCount = args.slots.length + 1;
    const counts = device.createBuffer({ label: 'test.timer.counts', size: 4 * slotCount, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
    const module = device.createShaderModule({
      label: 'test.timer.count',
      code: `@group(0) @binding(0) var<storage, read_write> counts: array<atomic<u32>>;
             override SLOT: u32;
             @compute @workgroup_size(1) fn main() { atomicAdd(&counts[SLOT], 1u); }`,
    });
    const encoders = Array.from({ length: slotCount }, (_, slot) => {
      const pipeline = device.createComputePipeline({ label: `test.timer.count${slot}`, layout: 'auto', compute: { module, entryPoint: 'main', constants: { SLOT: slot } } });
      const bindGroup = device.createBindGroup({ label: `test.timer.counts${slot}`, layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: counts } }] });
      return (encoder: GPUCommandEncoder) => {
        const pass = encoder.beginComputePass({ label: `test.timer.count${slot}` });
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, bindGroup);
        pass.dispatchWorkgroups(1);
        pass.end();
      };
    });
    const last = encoders[slotCount - 1];
    const slotTimes = await timer.batches(args.slots.map((k, slot) => ({ encode: encoders[slot], k })));
    const many = await timer.batches(Array.from({ length: GpuTimer.maxBatches }, () => ({ encode: last, k: 1 })));
    const tooMany = await timer.batches(Array.from({ length: GpuTimer.maxBatches + 1 }, () => ({ encode: last, k: 1 }))).then(
      () => 'none',
      (error: Error) => error.name,
    );
    const read = device.createBuffer({ label: 'test.timer.read', size: 4 * slotCount, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const encoder = device.createCommandEncoder({ label: 'test.timer.readback' });
    encoder.copyBufferToBuffer(counts, 0, read, 0, 4 * slotCount);
    device.queue.submit([encoder.finish()]);
    await read.mapAsync(GPUMapMode.READ);
    const values = [...new Uint32Array(read.getMappedRange())];
    read.unmap();
    return { hasTimestamps, counts: values, slotTimes, manyTimes: many.length, manyFinite: many.every(Number.isFinite), tooMany };
  } finally {
    timer.destroy();
    device.destroy();
  }
}
