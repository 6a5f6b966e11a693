/**
 * `npm run bench:analyze` page side: where the time of our kernels goes. Times, on the bench
 * device and interleaved like the benchmark, the copy floor, a read-only pass over x, each of our
 * kernels alone (built from the library's launch plans, as its encoders build them) and the whole
 * ops, for several launch tunings. Uses library internals on purpose: this is a diagnosis tool.
 */
import { channelView, type Layout } from '../../src/index';
import { createGpuContext, destroyGpuContext, type GpuContext } from '../../src/gpu/context';
import { encodeLaunches, type Launch } from '../../src/gpu/dispatch';
import { encodeBackward } from '../../src/gpu/encode-backward';
import { encodeForwardInference, encodeForwardTrain } from '../../src/gpu/encode-forward';
import { planBackwardReduce } from '../../src/gpu/plan-backward';
import { planFinalize, planStats } from '../../src/gpu/plan';
import { shaders } from '../../src/gpu/shader-sources';
import { resolveTuning, type KernelTuning } from '../../src/gpu/tuning';
import type { TimingPlan } from '../lib/types';
import { copyKernel, copyShapeFor } from './copy-kernel';
import { generator, uniform } from './data';
import { summarize, timeGpuInterleaved, type Encode, type GpuTimer } from './timing';

export interface AnalysisRow {
  tuning: string;
  variant: string;
  ms: number;
  msMin: number;
  msMax: number;
  /** Bytes the variant must move at least, and the resulting GB/s. */
  bytes: number;
  gbps: number;
}

export async function analyze(device: GPUDevice, isFallback: boolean, timer: GpuTimer, layout: Layout, shape: number[], tunings: Partial<KernelTuning>[], plan: TimingPlan): Promise<AnalysisRow[]> {
  const view = channelView(shape, layout);
  const C = view.channels;
  const n = view.size;
  const random = generator(7);
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const owned: GPUBuffer[] = [];
  const buffer = (label: string, data: Float32Array | number) => {
    const size = typeof data === 'number' ? data * 4 : data.byteLength;
    const b = device.createBuffer({ label: `analyze.${label}`, size: Math.max(16, size), usage, mappedAtCreation: typeof data !== 'number' });
    if (typeof data !== 'number') {
      new Float32Array(b.getMappedRange()).set(data);
      b.unmap();
    }
    owned.push(b);
    return b;
  };
  const x = buffer('x', uniform(random, n, 3, 2));
  const dy = buffer('dy', uniform(random, n, 0, 1));
  const y = buffer('y', n);
  const dx = buffer('dx', n);
  const stats = buffer('stats', 5 * C);
  const gamma = buffer('gamma', uniform(random, C, 1, 0.5));
  const beta = buffer('beta', uniform(random, C, 0, 1));
  const runningMean = buffer('runningMean', uniform(random, C, 3, 0.5));
  const runningVar = buffer('runningVar', uniform(random, C, 1.3, 0.3));
  const dgamma = buffer('dgamma', C);
  const dbeta = buffer('dbeta', C);
  const copy = copyKernel(device, x, y, n, 'copyVec4', copyShapeFor(isFallback));
  const read = copyKernel(device, x, undefined, n, 'readVec4', copyShapeFor(isFallback));
  const rows: AnalysisRow[] = [];
  const contexts: GpuContext[] = [];
  try {
    for (const overrides of tunings) {
      const tuning = resolveTuning(overrides, device.limits.maxComputeInvocationsPerWorkgroup);
      const context = createGpuContext(device, tuning);
      contexts.push(context);
      const maxGrid = context.maxWorkgroupsPerDimension;
      const statsPlan = planStats(view, tuning, maxGrid);
      const partials = context.scratch.get(statsPlan.chunks * C * 16);
      const statsLaunch: Launch = {
        shader: shaders[statsPlan.kernel],
        entryPoint: statsPlan.launch.entryPoint,
        constants: {},
        params: statsPlan.launch.params,
        buffers: [x, partials],
        grid: statsPlan.launch.grid,
      };
      const finalizeLaunch: Launch = {
        shader: shaders.finalize,
        ...planFinalize(view, statsPlan.chunks, tuning, maxGrid),
        constants: { UPDATE_RUNNING: false },
        params: { channels: C, chunks: statsPlan.chunks, eps: 1e-5, keep: 0, take: 1, varianceFactor: 1 },
        buffers: [partials, gamma, beta, context.constants.placeholder('runningMean'), context.constants.placeholder('runningVar'), stats],
      };
      const reduce = planBackwardReduce(view, tuning, maxGrid);
      const backwardPartials = device.createBuffer({ label: 'analyze.backwardPartials', size: reduce.chunks * C * 8 * 4, usage });
      owned.push(backwardPartials);
      const reduceLaunch: Launch = { shader: shaders[reduce.kernel], ...reduce.launch, constants: { RELU: false }, buffers: [x, dy, stats, backwardPartials] };
      const variants: [string, number, Encode][] = [
        ['copy (floor kernel)', 8 * n, (e) => copy.encode(e)],
        ['read x only', 4 * n, (e) => read.encode(e)],
        [`stats alone (${statsPlan.launch.entryPoint}, ${statsPlan.chunks} partials/channel)`, 4 * n, (e) => encodeLaunches(context, e, 'stats', [statsLaunch])],
        ['stats + finalize', 4 * n, (e) => encodeLaunches(context, e, 'statsFinalize', [statsLaunch, finalizeLaunch])],
        ['inference (fold + apply)', 8 * n, (e) => void encodeForwardInference(context, e, { shape, layout, x, y, stats, gamma, beta, runningMean, runningVar })],
        ['forward-train (stats, finalize, apply)', 12 * n, (e) => void encodeForwardTrain(context, e, { shape, layout, x, y, stats, gamma, beta, runningMean, runningVar })],
        [`backward reduce alone (${reduce.launch.entryPoint})`, 8 * n, (e) => encodeLaunches(context, e, 'reduce', [reduceLaunch])],
        ['backward (reduce, finalize, apply)', 20 * n, (e) => encodeBackward(context, e, { shape, layout, x, dy, dx, stats, gamma, dgamma, dbeta })],
      ];
      // Statistics for the backward kernels to read.
      const first = device.createCommandEncoder();
      encodeForwardTrain(context, first, { shape, layout, x, y, stats, gamma, beta });
      device.queue.submit([first.finish()]);
      const samples = await timeGpuInterleaved(timer, variants.map((v) => v[2]), plan);
      const name = `workgroupSize ${tuning.workgroupSize}, applyUnitsPerThread ${tuning.applyUnitsPerThread}, statsTargetThreads ${tuning.statsTargetThreads}, statsMinValuesPerThread ${tuning.statsMinValuesPerThread}`;
      variants.forEach(([variant, bytes], i) => {
        const s = summarize(samples[i]);
        rows.push({ tuning: name, variant, ms: s.ms, msMin: s.msMin, msMax: s.msMax, bytes, gbps: bytes / s.ms / 1e6 });
      });
    }
  } finally {
    await device.queue.onSubmittedWorkDone();
    copy.destroy();
    read.destroy();
    for (const context of contexts) destroyGpuContext(context);
    for (const b of owned) b.destroy();
  }
  return rows;
}

/** The copy kernel under several launch shapes, to pick the floor's (the fastest plain copy). */
export async function analyzeCopy(device: GPUDevice, timer: GpuTimer, elements: number, shapes: { workgroupSize: number; unitsPerThread: number }[], plan: TimingPlan): Promise<AnalysisRow[]> {
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const src = device.createBuffer({ label: 'analyze.copy.src', size: elements * 4, usage });
  const dst = device.createBuffer({ label: 'analyze.copy.dst', size: elements * 4, usage });
  const kernels = shapes.map((shape) => copyKernel(device, src, dst, elements, 'copyVec4', shape));
  try {
    const samples = await timeGpuInterleaved(timer, kernels.map((k) => (e: GPUCommandEncoder) => k.encode(e)), plan);
    return shapes.map((shape, i) => {
      const s = summarize(samples[i]);
      return { tuning: 'copy', variant: `copyVec4 ${shape.workgroupSize} threads × ${shape.unitsPerThread} vec4`, ms: s.ms, msMin: s.msMin, msMax: s.msMax, bytes: 8 * elements, gbps: (8 * elements) / s.ms / 1e6 };
    });
  } finally {
    await device.queue.onSubmittedWorkDone();
    for (const k of kernels) k.destroy();
    src.destroy();
    dst.destroy();
  }
}
