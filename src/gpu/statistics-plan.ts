import { BatchNormError } from '../errors';
import { runningUpdate } from '../conventions';
import type { ChannelView } from '../layout';
import { gpuEps, type ResolvedScalarOptions } from '../options';
import type { GpuContext } from './context';
import type { Launch } from './dispatch';
import type { OverrideConstants } from './pipelines';
import { elementBytes, shaders, tensorShader, type TensorDtype } from './shader-sources';
import { checkTensorFits, foldWorkgroups, reductionBinding, reductionSlabs, slabOf, type SlabLaunchPlan } from './slabs';
import type { KernelTuning } from './tuning';

/**
 * Launch plans of the statistics: the per-channel reduction that reads the tensor once (which the
 * backward's sums share, backward-plan.ts), slab by slab (slabs.ts); the merge of its partials
 * (partials-fold, finalize) and the inference fold. Which entry point of each kernel serves a view,
 * its uniform values and its grid: pure functions of the view, the tuning and the device limits,
 * unit-tested in Node. Planning may throw 'too-large', so the encoders plan while checking
 * arguments, before any device call; `planReduction` is the entry the encoders call.
 */
export interface KernelLaunch {
  entryPoint: string;
  params: Record<string, number>;
  grid: [number, number];
}

export interface StatsPlan {
  kernel: 'statsRows' | 'statsRuns';
  launch: KernelLaunch;
  /** K: partial statistics per channel, merged by finalize. */
  chunks: number;
}

/**
 * The two shapes of a per-channel reduction that reads the tensor once, shared by the statistics and
 * backward-reduce kernels (whose Params carry the same fields): 'Rows' when inner == 1 (a thread per
 * channel group, each taking every K-th row), 'Runs' when inner > 1 (a workgroup per chunk of a
 * channel). The entry point of a kernel is its name + shape + width, e.g. statsRowsVec4.
 */
export interface ReductionPlan {
  shape: 'Rows' | 'Runs';
  /**
   * 'Runs' only: '' for a workgroup per chunk of a channel (a workgroup sum per chunk), 'Segments'
   * for a thread per piece of a run, each writing its own partial (tuning.runSegments).
   */
  walk: '' | 'Segments';
  width: 'Scalar' | 'Vec4';
  params: Record<string, number>;
  grid: [number, number];
  /** K: partials per channel. */
  chunks: number;
}

const ceilDiv = (a: number, b: number) => Math.ceil(a / b);

/**
 * Loads each thread of the reductions keeps in flight, at least: blocks of four in the backward-reduce
 * kernels; the statistics kernels read blocks of 16 values (moments.wgsl), so they keep more.
 */
export const LOADS_PER_THREAD = 4;

/**
 * Threads a reduction aims at: enough for tuning.statsBytesInFlight bytes of loads in flight (four
 * loads of `loadBytes` per thread), or tuning.statsTargetThreads when that is 0.
 */
export function reductionTargetThreads(tuning: KernelTuning, loadBytes: number): number {
  return tuning.statsBytesInFlight > 0 ? ceilDiv(tuning.statsBytesInFlight, LOADS_PER_THREAD * loadBytes) : tuning.statsTargetThreads;
}

/**
 * The plan of one binding's worth of the tensor: the whole view, or one slab of it (see
 * planSlabbedReduction, which fills in the slab's place; the defaults describe a whole tensor). `vec4Allowed`
 * is false for a slab whose first value is not 16-byte aligned; `shape` is the whole tensor's (a
 * slab of a run may be a single value, which must still be reduced as a run of its channel).
 */
export function planChannelReduction(
  view: ChannelView,
  tuning: KernelTuning,
  maxPerDimension: number,
  vec4Allowed = true,
  shape: ReductionPlan['shape'] = view.inner === 1 ? 'Rows' : 'Runs',
): ReductionPlan {
  const { outer, channels, inner } = view;
  const wg = tuning.workgroupSize;
  if (shape === 'Rows') {
    const vec4 = vec4Allowed && channels % 4 === 0;
    const groups = vec4 ? channels / 4 : channels;
    // Each thread reduces at least statsMinValuesPerThread rows of its channel group.
    const maxLanes = Math.max(1, Math.floor(outer / tuning.statsMinValuesPerThread));
    const wantedLanes = Math.max(1, Math.min(outer, maxLanes, ceilDiv(reductionTargetThreads(tuning, vec4 ? 16 : 4), groups)));
    // Blocks of rows (tuning.blockedRows): as many lanes as it takes, so that none is empty.
    const laneRows = tuning.blockedRows ? ceilDiv(outer, wantedLanes) : 0;
    const rowLanes = tuning.blockedRows ? ceilDiv(outer, laneRows) : wantedLanes;
    const threads = groups * rowLanes;
    return {
      shape: 'Rows',
      walk: '',
      width: vec4 ? 'Vec4' : 'Scalar',
      chunks: rowLanes,
      params: { rows: outer, groups, rowLanes, threads, skip: 0, chunkBase: 0, laneRows },
      grid: foldWorkgroups(ceilDiv(threads, wg), maxPerDimension),
    };
  }
  const vec4 = vec4Allowed && inner % 4 === 0;
  const innerUnits = vec4 ? inner / 4 : inner;
  const valuesPerChannel = outer * innerUnits;
  const minUnits = ceilDiv(tuning.statsMinValuesPerThread, vec4 ? 4 : 1);
  const base = { shape: 'Runs' as const, width: vec4 ? ('Vec4' as const) : ('Scalar' as const) };
  const shared = { channels, inner: innerUnits, valuesPerChannel, skip: 0, chunkBase: 0, channelBase: 0, totalChannels: channels };
  if (tuning.runSegments) {
    // Pieces of at least statsMinValuesPerThread values, and no more partials per channel than a
    // serial finalize folds when the rows allow it; as many pieces as it takes so none is empty.
    const wantedPieces = Math.max(1, Math.min(Math.floor(innerUnits / minUnits), Math.floor(tuning.serialFinalizeMaxChunks / outer)));
    const pieceLength = ceilDiv(innerUnits, wantedPieces);
    const segmentsPerRun = ceilDiv(innerUnits, pieceLength);
    const threads = outer * channels * segmentsPerRun;
    const chunks = outer * segmentsPerRun;
    return {
      ...base,
      walk: 'Segments',
      chunks,
      params: { ...shared, chunkLength: pieceLength, chunks, workgroupCount: 0, stepOuter: 0, stepInner: 0, segmentsPerRun, threads },
      grid: foldWorkgroups(ceilDiv(threads, wg), maxPerDimension),
    };
  }
  const wantedChunks = Math.max(1, ceilDiv(reductionTargetThreads(tuning, vec4 ? 16 : 4), wg * channels));
  const chunkLength = Math.max(wg * minUnits, ceilDiv(valuesPerChannel, wantedChunks));
  const chunks = ceilDiv(valuesPerChannel, chunkLength);
  const workgroupCount = channels * chunks;
  return {
    ...base,
    walk: '',
    chunks,
    params: { ...shared, chunkLength, chunks, workgroupCount, stepOuter: Math.floor(wg / innerUnits), stepInner: wg % innerUnits, segmentsPerRun: 0, threads: 0 },
    grid: foldWorkgroups(workgroupCount, maxPerDimension),
  };
}

export interface SlabbedReduction {
  shape: ReductionPlan['shape'];
  /** Partial rows of all slabs together: what finalize merges (K). */
  chunks: number;
  /**
   * True when some slabs hold only some channels: the rows they write leave the other channels'
   * partials unwritten, which must then read as empty (count 0, sums 0), so the buffer is cleared.
   */
  zeroFill: boolean;
  slabs: (SlabLaunchPlan & { walk: ReductionPlan['walk']; width: ReductionPlan['width'] })[];
}

/** The reduction slab by slab, for elements of `bytes` bytes (4 for float32, 2 for float16). */
export function planSlabbedReduction(view: ChannelView, tuning: KernelTuning, maxPerDimension: number, bindingBytes: number, alignment: number, bytes = 4): SlabbedReduction {
  const shape: ReductionPlan['shape'] = view.inner === 1 ? 'Rows' : 'Runs';
  const slabs = reductionSlabs(view, bindingBytes, alignment, bytes);
  let chunks = 0;
  const planned = slabs.map((slab) => {
    const plan = planChannelReduction(slab.view, tuning, maxPerDimension, slab.firstElement % 4 === 0, shape);
    const binding = reductionBinding(slab, plan.width === 'Vec4' ? 4 * bytes : bytes, alignment, bytes);
    const params: Record<string, number> = { ...plan.params, skip: binding.skip, chunkBase: chunks };
    if (shape === 'Runs') Object.assign(params, { channelBase: slab.channelBase, totalChannels: view.channels });
    chunks += plan.chunks;
    return { walk: plan.walk, width: plan.width, params, grid: plan.grid, binding };
  });
  return { shape, chunks, zeroFill: slabs.some((slab) => slab.view.channels < view.channels), slabs: planned };
}

/** Bytes of one partial: (count, shifted mean, M2, pivot) for statistics, (Σ dy, Σ dy·(x − mean)) for backward. */
const partialBytes = { stats: 16, backwardReduce: 8 } as const;
export type ReductionKernel = keyof typeof partialBytes;

export interface ReductionWork {
  kernel: ReductionKernel;
  /** How the tensors it reads are stored: which module of the kernel runs. */
  dtype: TensorDtype;
  plan: SlabbedReduction;
  /** Bytes of partials all slabs write together. */
  partialsBytes: number;
}

/** The reduction of the statistics or of the backward's sums over a tensor on this context's device. */
export function planReduction(context: GpuContext, view: ChannelView, kernel: ReductionKernel, dtype: TensorDtype = 'float32'): ReductionWork {
  checkTensorFits(context.device.limits, view, elementBytes(dtype));
  const plan = planSlabbedReduction(view, context.tuning, context.maxWorkgroupsPerDimension, context.bindingBytes, context.alignment, elementBytes(dtype));
  const partialsBytes = plan.chunks * view.channels * partialBytes[kernel];
  const limit = context.device.limits.maxStorageBufferBindingSize;
  if (partialsBytes > limit) {
    throw new BatchNormError('too-large', `${view.channels} channels in ${plan.slabs.length} slabs need ${partialsBytes} bytes of partial sums, more than one ${limit}-byte binding`);
  }
  return { kernel, dtype, plan, partialsBytes };
}

export interface ReductionLaunches {
  launches: Launch[];
  /** The partials, bound exactly; zeroed first when `cleared` lists them. */
  partials: GPUBufferBinding;
  cleared: GPUBufferBinding[];
}

/**
 * The reduction over every slab: `tensors` (x, or x and dy) bound slab by slab, then `shared`
 * buffers bound whole, then the partials every slab writes its rows of.
 */
export function reductionLaunches(context: GpuContext, work: ReductionWork, tensors: GPUBuffer[], shared: GPUBuffer[], constants: OverrideConstants): ReductionLaunches {
  const { kernel, plan, partialsBytes } = work;
  const partials = { buffer: context.scratch.get(partialsBytes), offset: 0, size: partialsBytes };
  const launches = plan.slabs.map((slab) => ({
    shader: tensorShader(shaders[`${kernel}${plan.shape}`], work.dtype),
    entryPoint: `${kernel}${plan.shape}${slab.walk}${slab.width}`,
    constants,
    params: slab.params,
    buffers: [...tensors.map((buffer) => slabOf(buffer, slab.binding)), ...shared, partials],
    grid: slab.grid,
  }));
  return { launches, partials, cleared: plan.zeroFill ? [partials] : [] };
}

export function planStats(view: ChannelView, tuning: KernelTuning, maxPerDimension: number): StatsPlan {
  const { shape, walk, width, params, grid, chunks } = planChannelReduction(view, tuning, maxPerDimension);
  return { kernel: `stats${shape}`, chunks, launch: { entryPoint: `stats${shape}${walk}${width}`, params, grid } };
}

/** A grid of one thread per channel. */
export function perChannelThreads(view: ChannelView, tuning: KernelTuning, maxPerDimension: number): [number, number] {
  return foldWorkgroups(ceilDiv(view.channels, tuning.workgroupSize), maxPerDimension);
}

/**
 * How a kernel merges the K partials of each channel: a thread per channel folding them in order (no
 * barriers), or, above tuning.serialFinalizeMaxChunks, a workgroup per channel (strided folds, then
 * a tree).
 */
export interface MergePlan {
  strategy: 'Serial' | 'Tree';
  grid: [number, number];
}

export function planMerge(view: ChannelView, chunks: number, tuning: KernelTuning, maxPerDimension: number): MergePlan {
  if (chunks <= tuning.serialFinalizeMaxChunks) return { strategy: 'Serial', grid: perChannelThreads(view, tuning, maxPerDimension) };
  return { strategy: 'Tree', grid: foldWorkgroups(view.channels, maxPerDimension) };
}

/**
 * Most partials per channel a finalize merges itself. Beyond (a few channels and a large tensor: NC
 * [1 048 576, 4] has thousands per channel on a GPU), a first level folds consecutive groups of
 * partials into one each, a workgroup per (channel, group), so the finalize's workgroup per channel
 * merges at most this many: the merging is spread over many workgroups instead of a few long
 * chains, and the chains the error bound counts stay short (test/support/tolerances.ts).
 */
export const FINALIZE_MAX_PARTIALS = 128;

/** The first level of a two-level finalize (partials-fold.wgsl): K partials per channel in `groups` groups of `groupSize`. */
export interface PartialsFold {
  entryPoint: 'statsFold' | 'sumsFold';
  /**
   * Threads per workgroup: as many as the group has partials (a power of two), at most the
   * tuning's. A group of a few partials then takes a workgroup of a few threads, not one of 256
   * whose barriers would wait on idle threads: on a software adapter, where every barrier switches
   * between all the workgroup's invocations, that made the fold cost more than everything else
   * (docs/benchmark.md, "Measurements behind the launch shapes").
   */
  workgroupSize: number;
  params: { channels: number; chunks: number; groupSize: number; groups: number };
  grid: [number, number];
}

/**
 * The fold a finalize of K partials per channel needs first, or undefined (K ≤ FINALIZE_MAX_PARTIALS,
 * or a serial finalize): of the statistics' moments, or of the backward's sums.
 */
export function planPartialsFold(view: ChannelView, chunks: number, tuning: KernelTuning, maxPerDimension: number, partials: 'stats' | 'sums' = 'stats'): PartialsFold | undefined {
  if (chunks <= FINALIZE_MAX_PARTIALS || planMerge(view, chunks, tuning, maxPerDimension).strategy === 'Serial') return undefined;
  const groupSize = ceilDiv(chunks, FINALIZE_MAX_PARTIALS);
  const groups = ceilDiv(chunks, groupSize);
  const workgroupSize = Math.min(tuning.workgroupSize, 2 ** Math.ceil(Math.log2(groupSize)));
  return { entryPoint: partials === 'stats' ? 'statsFold' : 'sumsFold', workgroupSize, params: { channels: view.channels, chunks, groupSize, groups }, grid: foldWorkgroups(view.channels * groups, maxPerDimension) };
}

export function planFinalize(view: ChannelView, chunks: number, tuning: KernelTuning, maxPerDimension: number): Omit<KernelLaunch, 'params'> {
  const { strategy, grid } = planMerge(view, chunks, tuning, maxPerDimension);
  return { entryPoint: `finalize${strategy}`, grid };
}

/**
 * The uniform values of the last step of a channel's statistics (finalize-channel.wgsl), which
 * finalize and the fused small-tensor forward share: the convention as keep, take and
 * varianceFactor, and what a channel with a NaN or ±Inf is written as (WGSL cannot spell NaN).
 */
export function finalizeParams(resolved: ResolvedScalarOptions): Record<string, number> {
  const { keep, take, varianceFactor } = runningUpdate(resolved.convention, resolved.momentum, resolved.view.count);
  return { channels: resolved.view.channels, eps: gpuEps(resolved.eps), keep, take, varianceFactor, nan: NaN };
}

export function planInferenceFold(view: ChannelView, tuning: KernelTuning, maxPerDimension: number): Omit<KernelLaunch, 'params'> {
  return { entryPoint: 'inferenceFold', grid: perChannelThreads(view, tuning, maxPerDimension) };
}
