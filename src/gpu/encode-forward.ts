import { BatchNormError } from '../errors';
import { gpuEps, type ScalarOptions } from '../options';
import { contextFor, type GpuContext } from './context';
import { encodeLaunches, type Launch } from './dispatch';
import { fusedForwardLaunch, inferenceFoldsInApplyHere, planFusedWork } from './fused-small';
import { elementwiseLaunches, planElementwiseWork, type SlabbedElementwise } from './elementwise-plan';
import { finalizeParams, planFinalize, planInferenceFold, planPartialsFold, planReduction, reductionLaunches, type ReductionWork } from './statistics-plan';
import { passKinds, prepareCached, runPrepared, type CachedPass, type PreparedCall } from './program-cache';
import { checkBuffer, checkDistinct, checkDtypeSupported, checkEncoder, optionsKey, resolveResident, statsByteLength, residentTensorBytes, type ChannelBuffers } from './resident-options';
import { shaders, tensorShader } from './shader-sources';
import type { ResolvedScalarOptions } from '../options';

export interface ForwardBuffers extends ChannelBuffers {
  x: GPUBuffer;
  y: GPUBuffer;
  /** Receives [mean | variance | invStd | scale | shift] (5·C float32); created when omitted. */
  stats?: GPUBuffer;
  /**
   * z of a fused residual add, y = act(BN(x) + z): a tensor of x's shape and layout, read only.
   * Must differ from y (a written buffer aliases nothing).
   */
  residual?: GPUBuffer;
}

export type GpuForwardArgs = ScalarOptions & ForwardBuffers;

function checkTensors(args: ForwardBuffers, resolved: ResolvedScalarOptions, pass: 'train' | 'inference'): void {
  const bytes = residentTensorBytes(resolved);
  checkBuffer('x', args.x, bytes, GPUBufferUsage.STORAGE);
  checkBuffer('y', args.y, bytes, GPUBufferUsage.STORAGE);
  if (args.residual !== undefined) checkBuffer('residual', args.residual, bytes, GPUBufferUsage.STORAGE);
  const C = resolved.view.channels;
  const stats = args.stats ?? undefined;
  if (stats) checkBuffer('stats', stats, statsByteLength(C), GPUBufferUsage.STORAGE);
  // A buffer a kernel writes may alias no other binding (WebGPU rejects writable aliasing): y and
  // stats always, the running statistics in training, where finalize updates them in place. Buffers
  // that are only read (x, γ, β, and the running statistics in inference) may be one buffer.
  const { x, y, gamma, beta, runningMean, runningVar, residual } = args;
  const written = pass === 'train' ? { y, stats, runningMean, runningVar } : { y, stats };
  const read = pass === 'train' ? { x, gamma, beta, residual } : { x, gamma, beta, runningMean, runningVar, residual };
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

/** The elementwise kernel of apply.wgsl: `apply…` (scale and shift read) or `inference…` (folded). */
function applyKernel(resolved: ResolvedScalarOptions, plan: SlabbedElementwise, entry: 'apply' | 'inference', residual: GPUBuffer | undefined) {
  return {
    shader: tensorShader(shaders.apply, resolved.dtype),
    entryPoint: `${entry}${plan.variant}`,
    constants: { RELU: resolved.activation === 'relu', RESIDUAL: residual !== undefined },
  };
}

/** y = act(x·scale + shift [+ residual]); without a residual, x stands in for its binding (never read). */
export function applyLaunches(context: GpuContext, resolved: ResolvedScalarOptions, plan: SlabbedElementwise, x: GPUBuffer, stats: GPUBuffer, y: GPUBuffer, residual?: GPUBuffer): Launch[] {
  // The inference entries' fields are unused here (the same Params serves both, see apply.wgsl).
  const params = { scaleOffset: 3 * plan.channelBlock, shiftOffset: 4 * plan.channelBlock, eps: 0, statsChannels: 0 };
  return elementwiseLaunches(plan, applyKernel(resolved, plan, 'apply', residual), params, (slab) => [slab(x), stats, slab(y), slab(residual ?? x)]);
}

/**
 * Inference in one dispatch per slab: y = act(x·scale + shift [+ residual]) with scale and shift
 * folded from the running statistics by each thread, and stored into `stats` by the first slab's
 * launch (apply.wgsl's inference… entry points).
 */
export function inferenceLaunches(context: GpuContext, resolved: ResolvedScalarOptions, plan: SlabbedElementwise, args: ForwardBuffers, stats: GPUBuffer): Launch[] {
  const C = resolved.view.channels;
  const { x, y, residual } = args;
  const running = [
    args.gamma ?? context.constants.filled(C, 1),
    args.beta ?? context.constants.filled(C, 0),
    args.runningMean as GPUBuffer,
    args.runningVar as GPUBuffer,
  ];
  const params = { scaleOffset: 0, shiftOffset: 0, eps: gpuEps(resolved.eps), statsChannels: C };
  return elementwiseLaunches(plan, applyKernel(resolved, plan, 'inference', residual), params, (slab) => [slab(x), stats, slab(y), slab(residual ?? x), ...running]);
}

/** Statistics launches (partials slab by slab, see statistics-plan.ts), and finalize. */
export interface StatisticsLaunches {
  launches: Launch[];
  cleared: GPUBufferBinding[];
}

/** The statistics and finalize launches: batch statistics into `stats`, running statistics updated. */
export function statisticsLaunches(context: GpuContext, resolved: ResolvedScalarOptions, work: ReductionWork, args: ChannelBuffers & { x: GPUBuffer }, stats: GPUBuffer): StatisticsLaunches {
  const { view } = resolved;
  const C = view.channels;
  const fold = planPartialsFold(view, work.plan.chunks, context.tuning, context.maxWorkgroupsPerDimension);
  const reduction = reductionLaunches(context, work, [args.x], [], {});
  // A two-level finalize: the fold merges groups of partials into a buffer of their own.
  const foldedBytes = fold ? fold.params.groups * C * 16 : 0;
  const merged = fold ? { buffer: context.foldedScratch.get(foldedBytes), offset: 0, size: foldedBytes } : reduction.partials;
  const chunks = fold ? fold.params.groups : work.plan.chunks;
  const launches: Launch[] = [
    ...reduction.launches,
    ...(fold ? [{ shader: shaders.partialsFold, ...fold, constants: { WORKGROUP_SIZE: fold.workgroupSize }, buffers: [reduction.partials, merged] }] : []),
    {
      shader: shaders.finalize,
      ...planFinalize(view, chunks, context.tuning, context.maxWorkgroupsPerDimension),
      constants: { UPDATE_RUNNING: args.runningMean !== undefined },
      params: { chunks, ...finalizeParams(resolved) },
      buffers: [
        merged,
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
 * prepare… checks every argument and makes no device call; the PreparedCall it returns makes them
 * all (buffers, bind groups, the compute pass), or none when the call's objects are cached
 * (program-cache.ts). So a bad call throws before any GPU work, and the engine wraps exactly the
 * device work in error scopes.
 */

/** Launches that write into a stats buffer: planned (pure, may throw), then built for that buffer. */
type LaunchesInto = (stats: GPUBuffer) => { launches: Launch[]; cleared?: GPUBufferBinding[] };

/**
 * A call writing into a stats buffer: the caller's (its passes cached like any other buffers'), or
 * a new one per call, which the caller then owns. Planned first either way, so a shape the device
 * cannot take throws before that buffer exists.
 */
function prepareWithStats(
  context: GpuContext,
  encoder: GPUCommandEncoder,
  label: string,
  key: number[],
  given: GPUBuffer | undefined,
  channels: number,
  slots: (stats: GPUBuffer) => CachedPass['slots'],
  plan: () => LaunchesInto,
): PreparedCall<GPUBuffer> {
  if (given) {
    const planInto = () => {
      const into = plan();
      return () => into(given);
    };
    return prepareCached(context, encoder, { label, key, slots: slots(given), plan: planInto }, given);
  }
  checkStatsSize(context, channels);
  const into = plan();
  return {
    create: () => {
      const stats = newStatsBuffer(context, channels);
      const { launches, cleared } = into(stats);
      encodeLaunches(context, encoder, label, launches, cleared);
      return stats;
    },
  };
}

/**
 * Training forward on GPU-resident data, recorded into the caller's encoder: batch statistics,
 * running-statistics update in place, and y. Nothing is submitted or read back. Returns the stats
 * buffer (the caller's, or a new one the caller then owns).
 */
export function prepareForwardTrain(context: GpuContext, encoder: GPUCommandEncoder, args: GpuForwardArgs): PreparedCall<GPUBuffer> {
  checkEncoder(encoder);
  const resolved = resolveResident(args, 'train');
  checkTensors(args, resolved, 'train');
  checkDtypeSupported(context.device, resolved);
  context = contextFor(context, 'forwardTrain', resolved.view);
  const { x, y, gamma, beta, runningMean, runningVar, residual } = args;
  return prepareWithStats(
    context,
    encoder,
    'forwardTrain',
    [passKinds.forwardTrain, ...optionsKey(resolved)],
    args.stats,
    resolved.view.channels,
    (stats) => [x, y, stats, gamma, beta, runningMean, runningVar, residual],
    () => {
      // One dispatch when every channel (group) fits a workgroup (fused-small.ts), which has no
      // residual add: a residual takes the general launches.
      const fused = residual ? undefined : planFusedWork(context, resolved.view, 'forward', resolved.dtype);
      if (fused) return (stats) => ({ launches: [fusedForwardLaunch(context, resolved, fused, { ...args, stats })], cleared: [] });
      const work = planReduction(context, resolved.view, 'stats', resolved.dtype);
      const applyPlan = planElementwiseWork(context, resolved.view, resolved.dtype);
      return (stats) => {
        const statistics = statisticsLaunches(context, resolved, work, args, stats);
        return { launches: [...statistics.launches, ...applyLaunches(context, resolved, applyPlan, x, stats, y, residual)], cleared: statistics.cleared };
      };
    },
  );
}

export function encodeForwardTrain(context: GpuContext, encoder: GPUCommandEncoder, args: GpuForwardArgs): GPUBuffer {
  return runPrepared(prepareForwardTrain(context, encoder, args));
}

export type GpuStatisticsArgs = ScalarOptions & { x: GPUBuffer; stats?: GPUBuffer };

/**
 * Only the batch statistics of x (mean, biased variance, invStd into `stats`), no y and no running
 * update: the per-shard partials of synchronized batch norm (count = M, M2 = variance · M).
 */
export function prepareStatistics(context: GpuContext, encoder: GPUCommandEncoder, args: GpuStatisticsArgs): PreparedCall<GPUBuffer> {
  checkEncoder(encoder);
  if (args === null || typeof args !== 'object') throw new BatchNormError('invalid-option', 'encodeStatistics needs { shape, x, … }');
  const resolved = resolveResident({ ...args, runningMean: undefined, runningVar: undefined, gamma: undefined, beta: undefined }, 'train');
  checkBuffer('x', args.x, residentTensorBytes(resolved), GPUBufferUsage.STORAGE);
  const C = resolved.view.channels;
  if (args.stats) checkBuffer('stats', args.stats, statsByteLength(C), GPUBufferUsage.STORAGE);
  checkDistinct({ x: args.x, stats: args.stats });
  checkDtypeSupported(context.device, resolved);
  context = contextFor(context, 'forwardTrain', resolved.view);
  const x = args.x;
  return prepareWithStats(
    context,
    encoder,
    'statistics',
    [passKinds.statistics, ...optionsKey(resolved)],
    args.stats,
    C,
    (stats) => [x, stats],
    () => {
      const work = planReduction(context, resolved.view, 'stats', resolved.dtype);
      return (stats) => statisticsLaunches(context, resolved, work, { x }, stats);
    },
  );
}

export function encodeStatistics(context: GpuContext, encoder: GPUCommandEncoder, args: GpuStatisticsArgs): GPUBuffer {
  return runPrepared(prepareStatistics(context, encoder, args));
}

/**
 * Folds the running statistics into `stats` ([mean | variance | invStd | scale | shift]) in a
 * dispatch of its own: the eval-mode backward on host arrays builds its stats buffer with it.
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
export function prepareForwardInference(context: GpuContext, encoder: GPUCommandEncoder, args: GpuForwardArgs): PreparedCall<GPUBuffer> {
  checkEncoder(encoder);
  const resolved = resolveResident(args, 'inference');
  checkTensors(args, resolved, 'inference');
  checkDtypeSupported(context.device, resolved);
  context = contextFor(context, 'inference', resolved.view);
  const { x, y, gamma, beta, runningMean, runningVar, residual } = args;
  return prepareWithStats(
    context,
    encoder,
    'forwardInference',
    [passKinds.forwardInference, ...optionsKey(resolved)],
    args.stats,
    resolved.view.channels,
    (stats) => [x, y, stats, gamma, beta, runningMean, runningVar, residual],
    () => {
      const applyPlan = planElementwiseWork(context, resolved.view, resolved.dtype);
      if (inferenceFoldsInApplyHere(context, resolved.view, resolved.dtype)) {
        return (stats) => ({ launches: inferenceLaunches(context, resolved, applyPlan, args, stats) });
      }
      return (stats) => ({ launches: [inferenceFoldLaunch(context, resolved, args, stats), ...applyLaunches(context, resolved, applyPlan, x, stats, y, residual)] });
    },
  );
}

export function encodeForwardInference(context: GpuContext, encoder: GPUCommandEncoder, args: GpuForwardArgs): GPUBuffer {
  return runPrepared(prepareForwardInference(context, encoder, args));
}
