import { FUSED_STORAGE_BUFFERS } from './device';
import type { ChannelView } from '../layout';
import type { ResolvedScalarOptions } from '../options';
import type { GpuContext } from './context';
import type { Launch } from './dispatch';
import { gradientParams } from './backward-plan';
import { planElementwiseWork } from './elementwise-plan';
import { foldWorkgroups } from './slabs';
import { finalizeParams, planPartialsFold, planReduction } from './statistics-plan';
import { elementBytes, shaders, type ShaderSource, type TensorDtype } from './shader-sources';
import type { KernelTuning } from './tuning';

/**
 * One dispatch for small tensors (shaders/fused-small-*.wgsl): when every channel — or every group
 * of four channels of an inner == 1 layout — fits one workgroup's registers, the training forward
 * (statistics, running statistics, y) and the backward (sums, dgamma and dbeta, dx) are one kernel
 * each, reading the tensor once instead of twice, with no dispatch boundary in between.
 *
 * What fits: a workgroup of at most FUSED_MAX_THREADS threads (and the device's
 * maxComputeInvocationsPerWorkgroup, ≥ 256 on every WebGPU device) holding UNITS units each — a
 * value, or a vec4 where the layout allows — so the forward takes channels of up to 256 · 8 · 4 =
 * 8192 values (vec4) and the backward, which holds x and dy, half that. Workgroup memory: the
 * workgroup sum's WORKGROUP_SIZE vec2s and two vec4s, 2 KiB at 256 threads (16 KiB is guaranteed).
 * The tensor must fit one storage binding (larger ones are far from small). Software adapters
 * (tuning.runSegments), where a workgroup barrier costs more than these kernels save, take the
 * serial strategy instead: a thread per channel (group), no barrier, walking its rows — or its
 * runs, one after another, for runs of at least SERIAL_MIN_RUN values — and re-reading them from
 * the core's cache instead of holding them in registers; shorter runs keep three kernels. A
 * serial thread takes up to SERIAL_MAX_UNITS units in either direction, and rows layouts only up
 * to SERIAL_ROWS_MAX_VALUES values in all.
 */

/** Kept at 256 although GPUs allow 1024: a channel per workgroup of 256 keeps channels small enough
 * that a tensor still spreads over many workgroups; larger channels take the multi-kernel path. */
const FUSED_MAX_THREADS = 256;

/**
 * Fewest channel groups (workgroups) for which a GPU takes the 'Workgroup' strategy unless
 * tuning.oneDispatch is true: each group is one workgroup, so a tensor with few channels runs on a
 * few of the GPU's multiprocessors while the three-kernel path spreads it over all of them.
 * On a real GPU one dispatch lost to three kernels below a few dozen groups and won at 256
 * (docs/benchmark.md, "On a real GPU").
 */
export const FUSED_MIN_WORKGROUPS = 64;

/**
 * Threads per workgroup of the serial strategy: one invocation group of lavapipe (8 lanes), two of
 * SwiftShader (4), where the tensor still fills SERIAL_MIN_WORKGROUPS workgroups with them; else
 * SERIAL_FEW_THREADS. A software adapter runs a workgroup on one core: workgroups of 4 left half of
 * lavapipe's lanes idle (its NCHW [16, 256, 16, 16] forward took 1.43× the copy floor with them,
 * 1.16× with 8; Dawn in Node), while 8 groups in one workgroup of 8 left a core idle (NHWC
 * [2, 16, 16, 32] forward 2.2× against 1.07× with 4; headless Chromium, two cores).
 */
const SERIAL_THREADS = 8;
const SERIAL_FEW_THREADS = 4;
const SERIAL_MIN_WORKGROUPS = 8;

/**
 * Most units (values, or vec4s) of a channel (group) the serial strategy takes, both directions:
 * the forward's register capacity (256 threads × 8 vec4), 32 KiB of x per thread (and as much dy
 * in the backward), so a workgroup's channels stay within a core's L2 for the second walk. The
 * backward took only its register kernels' capacity, half that, until NHWC [2, 32, 32, 32] showed
 * it three kernels at 2.04× the floor where the forward ran in one dispatch at 1.56× (Chromium).
 */
export const SERIAL_MAX_UNITS = 2048;
/**
 * Largest tensor (values) of a rows layout (inner == 1: NC, NHWC) the serial strategy takes. Above
 * it the three kernels won in headless Chromium: backward NC [1024, 128] and [2048, 128] 1.55× and
 * 1.65× the floor in one dispatch against 1.40× and 1.44×, NHWC [32, 8, 8, 64] 1.54× against 1.45×;
 * at 256 KB and below one dispatch won (NC [512, 128] 1.52× against 1.91×, NHWC [2, 32, 32, 32]
 * 1.44× against 2.03×). Runs layouts keep one dispatch up to SERIAL_MAX_UNITS (NCHW [8, 32, 32,
 * 32], 1 MB: 1.17× against 1.31×).
 */
export const SERIAL_ROWS_MAX_VALUES = 65536;

/**
 * Shortest run (values) the serial strategy takes in Runs layouts, per direction: each run's end
 * costs a thread a loop exit and a partial block. With runs of 16 and 32 values the forward still
 * beat the three kernels on SwiftShader and lavapipe, the backward lost on SwiftShader (3.45× and
 * 2.40× the floor against 2.62× and 1.99×; docs/benchmark.md).
 */
export const SERIAL_MIN_RUN: Record<FusedDirection, number> = { forward: 16, backward: 64 };

export type FusedDirection = 'forward' | 'backward';

export interface FusedLimits {
  maxInvocationsPerWorkgroup: number;
  maxWorkgroupSizeX: number;
  maxWorkgroupStorageBytes: number;
  maxWorkgroupsPerDimension: number;
  /** Largest tensor binding (bytes). */
  bindingBytes: number;
  /** maxStorageBuffersPerShaderStage: the fused kernels bind FUSED_STORAGE_BUFFERS. */
  maxStorageBuffers: number;
}

export interface FusedPlan {
  /** Kernel launches of the whole op. */
  dispatches: 1;
  /**
   * 'Workgroup': a workgroup per channel (group) holding it in registers, with workgroup totals;
   * 'Serial' (tuning.runSegments, software adapters): a thread per channel (group) walking its rows
   * or runs once per pass, no barrier (see fused-small-walk.wgsl).
   */
  strategy: 'Workgroup' | 'Serial';
  entryPoint: string;
  workgroupSize: number;
  /** Units (values or vec4s) a thread takes: held in registers ('Workgroup', at most), or walked ('Serial'). */
  unitsPerThread: number;
  /** Most additions a value goes through in its thread's sums (the serial ones are blocked). */
  threadAdditions: number;
  params: { groups: number; units: number; innerUnits: number };
  grid: [number, number];
}

const kernels: Record<FusedDirection, ShaderSource> = { forward: shaders.fusedSmallForward, backward: shaders.fusedSmallBackward };

/** A `const NAME: u32 = …u;` of a kernel, read from its WGSL so that it is written once. */
function wgslConstant(shader: ShaderSource, name: string): number {
  const match = new RegExp(`const\\s+${name}\\s*:\\s*u32\\s*=\\s*(\\d+)u\\s*;`).exec(shader.code);
  if (!match) throw new Error(`${shader.name}.wgsl declares no const ${name}`);
  return Number(match[1]);
}

const nextPowerOfTwo = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

/**
 * The one-dispatch plan of a view, or undefined when it does not fit, when tuning.oneDispatch is
 * false, or on a GPU when the tensor has too few channel groups (FUSED_MIN_WORKGROUPS) and
 * tuning.oneDispatch is not true. Pure, so it is unit-tested in Node.
 */
export function planFused(view: ChannelView, direction: FusedDirection, tuning: KernelTuning, limits: FusedLimits): FusedPlan | undefined {
  if (tuning.oneDispatch === false || view.size * 4 > limits.bindingBytes) return undefined;
  if (limits.maxStorageBuffers < FUSED_STORAGE_BUFFERS[direction]) return undefined;
  const { outer, channels, inner } = view;
  const runs = inner > 1;
  const vec4 = runs ? inner % 4 === 0 : channels % 4 === 0;
  const innerUnits = runs ? (vec4 ? inner / 4 : inner) : 1;
  const groups = runs || !vec4 ? channels : channels / 4;
  const units = runs ? outer * innerUnits : outer;
  const name = direction === 'forward' ? 'fusedForward' : 'fusedBackward';
  const width = vec4 ? 'Vec4' : 'Scalar';
  const params = { groups, units, innerUnits };
  if (tuning.runSegments) {
    // A thread walks its channel (group) from the core's cache and holds none of it in registers:
    // its length is the one limit (SERIAL_MAX_UNITS).
    if (units > SERIAL_MAX_UNITS) return undefined;
    // Rows layouts above SERIAL_ROWS_MAX_VALUES keep three kernels (see there).
    if (!runs && view.size > SERIAL_ROWS_MAX_VALUES) return undefined;
    // Runs shorter than SERIAL_MIN_RUN values keep three kernels: a thread would cross a run's end
    // every few values.
    if (runs && inner < SERIAL_MIN_RUN[direction]) return undefined;
    // Small workgroups: a software adapter spreads workgroups over its cores, and these tensors
    // have few channels (groups) to spread.
    const wg = Math.min(tuning.workgroupSize, groups >= SERIAL_THREADS * SERIAL_MIN_WORKGROUPS ? SERIAL_THREADS : SERIAL_FEW_THREADS);
    if (Math.ceil(groups / wg) > limits.maxWorkgroupsPerDimension ** 2) return undefined;
    const block = wgslConstant(kernels[direction], 'SERIAL_BLOCK');
    // The backward's sums: blocks of SERIAL_BLOCK units (of the rows, or of each run) into the sums.
    const threadAdditions = runs ? Math.min(innerUnits, block) + outer * Math.ceil(innerUnits / block) : Math.min(units, block) + Math.ceil(units / block);
    const entryPoint = `${name}Serial${runs ? 'Runs' : ''}${width}`;
    return { dispatches: 1, strategy: 'Serial', entryPoint, workgroupSize: wg, unitsPerThread: units, threadAdditions, params, grid: foldWorkgroups(Math.ceil(groups / wg), limits.maxWorkgroupsPerDimension) };
  }
  const unitsPerThread = wgslConstant(kernels[direction], 'UNITS');
  const maxThreads = Math.min(FUSED_MAX_THREADS, limits.maxInvocationsPerWorkgroup, limits.maxWorkgroupSizeX);
  // As few threads as hold the channel, but no fewer than the tuning's workgroup size while the
  // channel has the units for them: on a GPU more threads keep more loads in flight.
  // (The tuning's size is a preference, capped by the device, not a reason to give the path up.)
  const threads = Math.max(nextPowerOfTwo(Math.ceil(units / unitsPerThread)), Math.min(tuning.workgroupSize, maxThreads, nextPowerOfTwo(units)));
  if (threads > maxThreads) return undefined;
  // workgroupSum's array (a vec2 per thread) and the two broadcast vec4s.
  if (threads * 8 + 32 > limits.maxWorkgroupStorageBytes) return undefined;
  if (groups > limits.maxWorkgroupsPerDimension ** 2) return undefined;
  if (tuning.oneDispatch !== true && groups < FUSED_MIN_WORKGROUPS) return undefined;
  return {
    dispatches: 1,
    strategy: 'Workgroup',
    entryPoint: `${name}${runs ? 'Runs' : 'Rows'}${width}`,
    workgroupSize: threads,
    unitsPerThread,
    threadAdditions: unitsPerThread,
    params,
    grid: foldWorkgroups(groups, limits.maxWorkgroupsPerDimension),
  };
}

export function fusedLimits(context: GpuContext): FusedLimits {
  const { limits } = context.device;
  return {
    maxInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
    maxWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
    maxWorkgroupStorageBytes: limits.maxComputeWorkgroupStorageSize,
    maxWorkgroupsPerDimension: context.maxWorkgroupsPerDimension,
    bindingBytes: context.bindingBytes,
    maxStorageBuffers: limits.maxStorageBuffersPerShaderStage,
  };
}

/**
 * The one-dispatch plan of a call, if any. The one-dispatch kernels read and write float32 tensors
 * only: a float16 call takes the multi-pass kernels, which have float16 modules (shader-sources.ts).
 */
export function planFusedWork(context: GpuContext, view: ChannelView, direction: FusedDirection, dtype: TensorDtype = 'float32'): FusedPlan | undefined {
  if (dtype !== 'float32') return undefined;
  return planFused(view, direction, context.tuning, fusedLimits(context));
}

/**
 * Largest tensor (bytes) whose inference folds inside its apply on a CPU adapter (one with
 * tuning.contiguousUnitsPerThread set). There every thread's fold — a few gathers and a division
 * per channel it walks — costs about what the saved dispatch does from ~1 MB on (SwiftShader, NC
 * and NHWC, walked by period: 1.47–1.63× the copy against 1.42–1.47× at 1–16 MB), while small
 * tensors gain (NCHW 64 KB 2.45× against 2.88×, NHWC 64 KB 1.59× against 2.10×).
 */
export const CPU_FOLD_IN_APPLY_MAX_BYTES = 256 * 1024;

/**
 * Whether inference folds the running statistics inside its apply (apply.wgsl's inference…
 * entry points), one dispatch per slab, rather than in a dispatch of its own before it: on GPUs at
 * any size (a dispatch and its barrier cost microseconds, a large part of a 16 MB copy on a fast
 * card), on CPU adapters up to CPU_FOLD_IN_APPLY_MAX_BYTES, at any size with tuning.oneDispatch
 * true (which autotuning may choose); never with tuning.oneDispatch false or on a device that binds
 * fewer than FUSED_STORAGE_BUFFERS.inference storage buffers per stage (compatibility mode).
 */
export function inferenceFoldsInApply(tuning: KernelTuning, maxStorageBuffers: number, tensorBytes: number): boolean {
  if (tuning.oneDispatch === false || maxStorageBuffers < FUSED_STORAGE_BUFFERS.inference) return false;
  return tuning.oneDispatch === true || tuning.contiguousUnitsPerThread === 0 || tensorBytes <= CPU_FOLD_IN_APPLY_MAX_BYTES;
}

/** inferenceFoldsInApply for a call of `view` on this context. */
export function inferenceFoldsInApplyHere(context: GpuContext, view: ChannelView, dtype: TensorDtype): boolean {
  return inferenceFoldsInApply(context.tuning, context.device.limits.maxStorageBuffersPerShaderStage, view.size * elementBytes(dtype));
}

/**
 * Launches of a training forward or backward of `view`: 1 in one dispatch (never with a residual
 * add or its dz), else reduction, the fold of a two-level finalize, finalize, elementwise. Of an
 * inference: the elementwise launches, after the fold's own unless it folds in its apply.
 */
export function dispatchCount(context: GpuContext, view: ChannelView, op: 'forwardTrain' | 'backward' | 'inference', residual = false, dtype: TensorDtype = 'float32'): number {
  const elementwise = planElementwiseWork(context, view, dtype).slabs.length;
  if (op === 'inference') return elementwise + (inferenceFoldsInApplyHere(context, view, dtype) ? 0 : 1);
  if (!residual && planFusedWork(context, view, op === 'forwardTrain' ? 'forward' : 'backward', dtype)) return 1;
  const reduction = planReduction(context, view, op === 'forwardTrain' ? 'stats' : 'backwardReduce', dtype);
  const fold = planPartialsFold(view, reduction.plan.chunks, context.tuning, context.maxWorkgroupsPerDimension) ? 1 : 0;
  return reduction.plan.slabs.length + fold + 1 + elementwise;
}

export interface FusedForwardBuffers {
  x: GPUBuffer;
  y: GPUBuffer;
  stats: GPUBuffer;
  gamma?: GPUBuffer;
  beta?: GPUBuffer;
  runningMean?: GPUBuffer;
  runningVar?: GPUBuffer;
}

/** The training forward as one launch: statistics into `stats`, running statistics, y. */
export function fusedForwardLaunch(context: GpuContext, resolved: ResolvedScalarOptions, plan: FusedPlan, args: FusedForwardBuffers): Launch {
  const C = resolved.view.channels;
  return {
    shader: shaders.fusedSmallForward,
    entryPoint: plan.entryPoint,
    constants: { WORKGROUP_SIZE: plan.workgroupSize, RELU: resolved.activation === 'relu', UPDATE_RUNNING: args.runningMean !== undefined },
    params: { ...plan.params, count: resolved.view.count, ...finalizeParams(resolved) },
    buffers: [
      args.x,
      args.gamma ?? context.constants.filled(C, 1),
      args.beta ?? context.constants.filled(C, 0),
      args.runningMean ?? context.constants.placeholder('runningMean'),
      args.runningVar ?? context.constants.placeholder('runningVar'),
      args.stats,
      args.y,
    ],
    grid: plan.grid,
  };
}

export interface FusedBackwardBuffers {
  x: GPUBuffer;
  dy: GPUBuffer;
  dx: GPUBuffer;
  stats: GPUBuffer;
  gamma?: GPUBuffer;
  dgamma?: GPUBuffer;
  dbeta?: GPUBuffer;
  /** The forward's output: with relu, dy passes where y is positive (activation.wgsl). */
  y?: GPUBuffer;
}

/** The backward (train or eval mode) as one launch: dgamma and dbeta when given, dx. */
export function fusedBackwardLaunch(
  context: GpuContext,
  resolved: ResolvedScalarOptions,
  plan: FusedPlan,
  options: { train: boolean; accumulate: boolean },
  args: FusedBackwardBuffers,
): Launch {
  const C = resolved.view.channels;
  return {
    shader: shaders.fusedSmallBackward,
    entryPoint: plan.entryPoint,
    constants: {
      WORKGROUP_SIZE: plan.workgroupSize,
      RELU: resolved.activation === 'relu',
      TRAIN: options.train,
      ACCUMULATE: options.accumulate,
      WRITE_DGAMMA: args.dgamma !== undefined,
      WRITE_DBETA: args.dbeta !== undefined,
    },
    params: { ...plan.params, ...gradientParams(resolved.view) },
    buffers: [
      args.x,
      args.stats,
      args.gamma ?? context.constants.filled(C, 1),
      args.dgamma ?? context.constants.placeholder('dgamma'),
      args.dbeta ?? context.constants.placeholder('dbeta'),
      args.dy,
      args.dx,
      // Without relu the kernel never reads y; x stands in for its binding.
      resolved.activation === 'relu' ? args.y! : args.x,
    ],
    grid: plan.grid,
  };
}
