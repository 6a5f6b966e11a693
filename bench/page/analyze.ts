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
import { dispatchCount } from '../../src/gpu/fused-small';
import { applyLaunches, encodeForwardInference, encodeForwardTrain, statisticsLaunches } from '../../src/gpu/encode-forward';
import { resolveResident } from '../../src/gpu/resident-options';
import { planElementwiseWork } from '../../src/gpu/elementwise-plan';
import { planReduction, reductionLaunches } from '../../src/gpu/statistics-plan';
import { resolveTuning } from '../../src/gpu/tuning';
import type { AnalysisRow, AnalysisTuning } from '../lib/analysis';
import type { TimingPlan } from '../lib/types';
import { copyFloor, copyKernel, copyShapesFor, describeCopyShape, type CopyShape } from './copy-kernel';
import { generator, uniform } from './data';
import { summarize, timeGpuInterleaved, type Encode, type GpuTimer } from './timing';

export async function analyze(device: GPUDevice, isFallback: boolean, timer: GpuTimer, layout: Layout, shape: number[], tunings: AnalysisTuning[], plan: TimingPlan): Promise<AnalysisRow[]> {
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
  const copyShapes = copyShapesFor(isFallback);
  const copy = copyFloor(device, x, y, n, copyShapes);
  const read = copyKernel(device, x, undefined, n, 'readVec4', copyShapes[0]);
  const rows: AnalysisRow[] = [];
  const contexts: GpuContext[] = [];
  try {
    for (const { label, overrides } of tunings) {
      const tuning = resolveTuning(overrides, device.limits.maxComputeInvocationsPerWorkgroup);
      const context = createGpuContext(device, tuning);
      contexts.push(context);
      const encodeOf = (label: string, work: { launches: Launch[]; cleared: GPUBufferBinding[] }): Encode => (e) => encodeLaunches(context, e, label, work.launches, work.cleared);
      // Each kernel alone, built by the library's own launch builders (as its encoders build them).
      const resolved = resolveResident({ shape, layout, gamma, beta }, 'train');
      const statsWork = planReduction(context, view, 'stats');
      const statistics = statisticsLaunches(context, resolved, statsWork, { x, gamma, beta }, stats);
      const statsAlone = reductionLaunches(context, statsWork, [x], [], {});
      const applyPlan = planElementwiseWork(context, view);
      const applyAlone = { launches: applyLaunches(context, resolved, applyPlan, x, stats, y), cleared: [] };
      const reduceWork = planReduction(context, view, 'backwardReduce');
      const reduceAlone = reductionLaunches(context, reduceWork, [x, dy, x], [stats], { RELU: false });
      // Workgroups of the first slab's launch: on a GPU, whether a kernel fills the machine.
      const workgroups = (grid: [number, number]) => `${grid[0] * grid[1]} workgroups of ${tuning.workgroupSize}`;
      const statsSlab = statsWork.plan.slabs[0];
      const statsEntry = `stats${statsWork.plan.shape}${statsSlab.walk}${statsSlab.width}, ${workgroups(statsSlab.grid)}`;
      const applyEntry = `apply${applyPlan.variant}${applyPlan.slabs[0].contiguous ? ' contiguous' : applyPlan.slabs[0].runs ? ' by runs' : ' by period'}, ${workgroups(applyPlan.slabs[0].grid)}`;
      const variants: [string, number, Encode][] = [
        ...copy.variants.map((encode, i): [string, number, Encode] => [`copy (a floor candidate, ${describeCopyShape(copyShapes[i])})`, 8 * n, encode]),
        [`read x only (${describeCopyShape(copyShapes[0])})`, 4 * n, (e) => read.encode(e)],
        [`stats alone (${statsEntry}, ${statsWork.plan.chunks} partials/channel)`, 4 * n, encodeOf('stats', statsAlone)],
        ['stats + finalize', 4 * n, encodeOf('statsFinalize', statistics)],
        [`apply alone (${applyEntry})`, 8 * n, encodeOf('apply', applyAlone)],
        [`inference (${dispatchCount(context, view, 'inference') === applyPlan.slabs.length ? 'the fold inside the apply' : 'fold, apply'})`, 8 * n, (e) => void encodeForwardInference(context, e, { shape, layout, x, y, stats, gamma, beta, runningMean, runningVar })],
        [`forward-train (${dispatchCount(context, view, 'forwardTrain') === 1 ? 'one dispatch' : 'stats, finalize, apply'})`, 12 * n, (e) => void encodeForwardTrain(context, e, { shape, layout, x, y, stats, gamma, beta, runningMean, runningVar })],
        [`backward reduce alone (backwardReduce${reduceWork.plan.shape})`, 8 * n, encodeOf('reduce', reduceAlone)],
        [`backward (${dispatchCount(context, view, 'backward') === 1 ? 'one dispatch' : 'reduce, finalize, apply'})`, 20 * n, (e) => encodeBackward(context, e, { shape, layout, x, dy, dx, stats, gamma, dgamma, dbeta })],
      ];
      // Statistics for the backward kernels to read.
      const first = device.createCommandEncoder();
      encodeForwardTrain(context, first, { shape, layout, x, y, stats, gamma, beta });
      device.queue.submit([first.finish()]);
      const samples = await timeGpuInterleaved(timer, variants.map((v) => v[2]), plan);
      variants.forEach(([variant, bytes], i) => {
        const s = summarize(samples[i]);
        rows.push({ tuning: label, variant, ms: s.ms, msMin: s.msMin, msMax: s.msMax, bytes, gbps: bytes / s.ms / 1e6 });
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
export async function analyzeCopy(device: GPUDevice, timer: GpuTimer, elements: number, shapes: CopyShape[], plan: TimingPlan): Promise<AnalysisRow[]> {
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const src = device.createBuffer({ label: 'analyze.copy.src', size: elements * 4, usage });
  const dst = device.createBuffer({ label: 'analyze.copy.dst', size: elements * 4, usage });
  const kernels = shapes.map((shape) => copyKernel(device, src, dst, elements, 'copyVec4', shape));
  try {
    const samples = await timeGpuInterleaved(timer, kernels.map((k) => (e: GPUCommandEncoder) => k.encode(e)), plan);
    return shapes.map((shape, i) => {
      const s = summarize(samples[i]);
      return { tuning: 'copy', variant: `${shape.walk === 'segments' ? 'copySegments' : 'copyVec4'} ${shape.workgroupSize} threads × ${shape.unitsPerThread} vec4`, ms: s.ms, msMin: s.msMin, msMax: s.msMax, bytes: 8 * elements, gbps: (8 * elements) / s.ms / 1e6 };
    });
  } finally {
    await device.queue.onSubmittedWorkDone();
    for (const k of kernels) k.destroy();
    src.destroy();
    dst.destroy();
  }
}
