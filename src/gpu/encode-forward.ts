import { runningUpdate } from '../conventions';
import { BatchNormError } from '../errors';
import { gpuEps, type ScalarOptions } from '../options';
import { contextFor, type GpuContext } from './context';
import { encodeLaunches, type Launch } from './dispatch';
import { planFinalize, planInferenceFold } from './plan';
import type { SlabbedElementwise } from './plan-slabs';
import { elementwiseLaunches, planElementwiseWork, planReduction, reductionLaunches, type ReductionWork } from './slab-launches';
import { checkBuffer, checkDistinct, checkEncoder, resolveResident, statsByteLength, type ChannelBuffers } from './resident-options';
import { shaders } from './shader-sources';
import type { ResolvedScalarOptions } from '../options';

export interface ForwardBuffers extends ChannelBuffers {
  x: GPUBuffer;
  y: GPUBuffer;
  /** Receives [mean | variance | invStd | scale | shift] (5·C float32); created when omitted. */
  stats?: GPUBuffer;
}

export type GpuForwardArgs = ScalarOptions & ForwardBuffers;

function checkTensors(args: ForwardBuffers, resolved: ResolvedScalarOptions, pass: 'train' | 'inference'): void {
  const bytes = resolved.view.size * 4;
  checkBuffer('x', args.x, bytes, GPUBufferUsage.STORAGE);
  checkBuffer('y', args.y, bytes, GPUBufferUsage.STORAGE);
  const C = resolved.view.channels;
  const stats = args.stats ?? undefined;
  if (stats) checkBuffer('stats', stats, statsByteLength(C), GPUBufferUsage.STORAGE);
  // A buffer a kernel writes may alias no other binding (WebGPU rejects writable aliasing): y and
  // stats always, the running statistics in training, where finalize updates them in place. Buffers
  // that are only read (x, γ, β, and the running statistics in inference) may be one buffer.
  const { x, y, gamma, beta, runningMean, runningVar } = args;
  const written = pass === 'train' ? { y, stats, runningMean, runningVar } : { y, stats };
  const read = pass === 'train' ? { x, gamma, beta } : { x, gamma, beta, runningMean, runningVar };
  for (const [name, buffer] of Object.entries(read)) checkDistinct({ ...written, [name]: buffer });
}

/** Too large for the device: caught here rather than as an asynchronous GPU error. */
function checkStatsSize(context: GpuContext, channels: number): void {
  const limit = context.device.limits.maxBufferSize;
  if (statsByteLength(channels) > limit) {
    throw new BatchNormError('invalid-shape', `${channels} channels need a ${statsByteLength(channels)}-byte statistics buffer; this device allows ${limit}`);
  }
}

function newStatsBuffer(context: GpuContext, channels: number): GPUBuffer {
  return context.device.createBuffer({
    label: `BatchNorm.stats[${channels}]`,
    size: statsByteLength(channels),
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
  });
}

export function applyLaunches(context: GpuContext, resolved: ResolvedScalarOptions, plan: SlabbedElementwise, x: GPUBuffer, stats: GPUBuffer, y: GPUBuffer): Launch[] {
  const kernel = {
    shader: shaders.apply,
    entryPoint: `apply${plan.variant}`,
    constants: { RELU: resolved.activation === 'relu' },
  };
  const offsets = { scaleOffset: 3 * plan.channelBlock, shiftOffset: 4 * plan.channelBlock };
  return elementwiseLaunches(plan, kernel, offsets, (slab) => [slab(x), stats, slab(y)]);
}

/** Statistics launches (partials slab by slab, see slab-launches.ts), and finalize. */
export interface StatisticsLaunches {
  launches: Launch[];
  cleared: GPUBufferBinding[];
}

/** The statistics and finalize launches: batch statistics into `stats`, running statistics updated. */
export function statisticsLaunches(context: GpuContext, resolved: ResolvedScalarOptions, work: ReductionWork, args: ChannelBuffers & { x: GPUBuffer }, stats: GPUBuffer): StatisticsLaunches {
  const { view } = resolved;
  const C = view.channels;
  const chunks = work.plan.chunks;
  const reduction = reductionLaunches(context, work, [args.x], [], {});
  const update = runningUpdate(resolved.convention, resolved.momentum, view.count);
  const launches: Launch[] = [
    ...reduction.launches,
    {
      shader: shaders.finalize,
      ...planFinalize(view, chunks, context.tuning, context.maxWorkgroupsPerDimension),
      constants: { UPDATE_RUNNING: args.runningMean !== undefined },
      params: {
        channels: C,
        chunks,
        eps: gpuEps(resolved.eps),
        keep: update.keep,
        take: update.take,
        varianceFactor: update.varianceFactor,
        // What finalize writes for a channel with a NaN or ±Inf (WGSL cannot spell NaN itself).
        nan: NaN,
      },
      buffers: [
        reduction.partials,
        args.gamma ?? context.constants.filled(C, 1),
        args.beta ?? context.constants.filled(C, 0),
        args.runningMean ?? context.constants.placeholder('runningMean'),
        args.runningVar ?? context.constants.placeholder('runningVar'),
        stats,
      ],
    },
  ];
  return { launches, cleared: reduction.cleared };
}

/**
 * Each encode… call comes in two halves, as ONNX Runtime Web's ops (validateInputs → program):
 * prepare… checks every argument and makes no device call; the function it returns makes them all
 * (buffers, bind groups, the compute pass). So a bad call throws before any GPU work, and the
 * engine can wrap exactly the device work in error scopes.
 */
export type Encode<T> = () => T;

/**
 * Training forward on GPU-resident data, recorded into the caller's encoder: batch statistics,
 * running-statistics update in place, and y. Nothing is submitted or read back. Returns the stats
 * buffer (the caller's, or a new one the caller then owns).
 */
export function prepareForwardTrain(context: GpuContext, encoder: GPUCommandEncoder, args: GpuForwardArgs): Encode<GPUBuffer> {
  checkEncoder(encoder);
  const resolved = resolveResident(args, 'train');
  checkTensors(args, resolved, 'train');
  context = contextFor(context, 'forwardTrain', resolved.view);
  if (!args.stats) checkStatsSize(context, resolved.view.channels);
  const work = planReduction(context, resolved.view, 'stats');
  const applyPlan = planElementwiseWork(context, resolved.view);
  return () => {
    const stats = args.stats ?? newStatsBuffer(context, resolved.view.channels);
    const statistics = statisticsLaunches(context, resolved, work, args, stats);
    const launches = [...statistics.launches, ...applyLaunches(context, resolved, applyPlan, args.x, stats, args.y)];
    encodeLaunches(context, encoder, 'forwardTrain', launches, statistics.cleared);
    return stats;
  };
}

export function encodeForwardTrain(context: GpuContext, encoder: GPUCommandEncoder, args: GpuForwardArgs): GPUBuffer {
  return prepareForwardTrain(context, encoder, args)();
}

export type GpuStatisticsArgs = ScalarOptions & { x: GPUBuffer; stats?: GPUBuffer };

/**
 * Only the batch statistics of x (mean, biased variance, invStd into `stats`), no y and no running
 * update: the per-shard partials of synchronized batch norm (count = M, M2 = variance · M).
 */
export function prepareStatistics(context: GpuContext, encoder: GPUCommandEncoder, args: GpuStatisticsArgs): Encode<GPUBuffer> {
  checkEncoder(encoder);
  if (args === null || typeof args !== 'object') throw new BatchNormError('invalid-option', 'encodeStatistics needs { shape, x, … }');
  const resolved = resolveResident({ ...args, runningMean: undefined, runningVar: undefined, gamma: undefined, beta: undefined }, 'train');
  checkBuffer('x', args.x, resolved.view.size * 4, GPUBufferUsage.STORAGE);
  const C = resolved.view.channels;
  if (args.stats) checkBuffer('stats', args.stats, statsByteLength(C), GPUBufferUsage.STORAGE);
  checkDistinct({ x: args.x, stats: args.stats });
  if (!args.stats) checkStatsSize(context, C);
  context = contextFor(context, 'forwardTrain', resolved.view);
  const work = planReduction(context, resolved.view, 'stats');
  return () => {
    const stats = args.stats ?? newStatsBuffer(context, C);
    const statistics = statisticsLaunches(context, resolved, work, { x: args.x }, stats);
    encodeLaunches(context, encoder, 'statistics', statistics.launches, statistics.cleared);
    return stats;
  };
}

export function encodeStatistics(context: GpuContext, encoder: GPUCommandEncoder, args: GpuStatisticsArgs): GPUBuffer {
  return prepareStatistics(context, encoder, args)();
}

/**
 * Folds the running statistics into `stats` ([mean | variance | invStd | scale | shift]), as
 * inference uses them; the eval-mode backward on host arrays builds its stats buffer with it too.
 */
export function inferenceFoldLaunch(context: GpuContext, resolved: ResolvedScalarOptions, args: ChannelBuffers, stats: GPUBuffer): Launch {
  const C = resolved.view.channels;
  return {
    shader: shaders.inferenceFold,
    ...planInferenceFold(resolved.view, context.tuning, context.maxWorkgroupsPerDimension),
    constants: {},
    params: { channels: C, eps: gpuEps(resolved.eps) },
    buffers: [
      args.gamma ?? context.constants.filled(C, 1),
      args.beta ?? context.constants.filled(C, 0),
      args.runningMean as GPUBuffer,
      args.runningVar as GPUBuffer,
      stats,
    ],
  };
}

/** Inference forward with population statistics on GPU-resident data; running stats are read only. */
export function prepareForwardInference(context: GpuContext, encoder: GPUCommandEncoder, args: GpuForwardArgs): Encode<GPUBuffer> {
  checkEncoder(encoder);
  const resolved = resolveResident(args, 'inference');
  checkTensors(args, resolved, 'inference');
  context = contextFor(context, 'inference', resolved.view);
  const C = resolved.view.channels;
  if (!args.stats) checkStatsSize(context, C);
  const applyPlan = planElementwiseWork(context, resolved.view);
  return () => {
    const stats = args.stats ?? newStatsBuffer(context, C);
    const launches: Launch[] = [inferenceFoldLaunch(context, resolved, args, stats), ...applyLaunches(context, resolved, applyPlan, args.x, stats, args.y)];
    encodeLaunches(context, encoder, 'forwardInference', launches);
    return stats;
  };
}

export function encodeForwardInference(context: GpuContext, encoder: GPUCommandEncoder, args: GpuForwardArgs): GPUBuffer {
  return prepareForwardInference(context, encoder, args)();
}
