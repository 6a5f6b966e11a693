import type { ChannelView } from '../layout';
import type { GpuContext } from './context';
import type { Launch } from './dispatch';
import { elementBytes, type TensorDtype } from './shader-sources';
import { checkTensorFits, elementwiseSlabs, foldWorkgroups, slabOf, tensorBytes, type SlabLaunchPlan } from './slabs';
import type { KernelTuning } from './tuning';

/**
 * Launch plans of the elementwise kernels (apply, backward-apply): one launch per flat slab of the
 * tensor (slabs.ts). Pure functions of the view, the tuning and the device limits, unit-tested in
 * Node; `planElementwiseWork` is the entry the encoders call while checking arguments (it may throw
 * 'too-large'), `elementwiseLaunches` turns its plan into launches.
 */

/**
 * The elementwise kernels (apply, backward-apply) see the tensor in units (values, or vec4s) as
 * [outer, C', inner']: 'Vec4Run' when inner % 4 == 0 (the four lanes share a channel),
 * 'Vec4Channels' when inner == 1 and C % 4 == 0 (the lanes are four consecutive channels), else
 * 'Scalar'. `channelBlock` is the length of one C-value block of a per-channel buffer such as the
 * stats, in units of its binding (C, or C / 4 for Vec4Channels).
 */
export interface ElementwiseShape {
  variant: 'Scalar' | 'Vec4Run' | 'Vec4Channels';
  channelBlock: number;
  /** Bytes per unit: one element (4 for float32, 2 for float16), or four for the vec4 variants. */
  unitBytes: number;
  units: number;
  channels: number;
  inner: number;
}

export function elementwiseShape(view: ChannelView, bytes = 4): ElementwiseShape {
  const { channels: C, inner, size } = view;
  if (inner % 4 === 0) return { variant: 'Vec4Run', channelBlock: C, unitBytes: 4 * bytes, units: size / 4, channels: C, inner: inner / 4 };
  if (inner === 1 && C % 4 === 0) return { variant: 'Vec4Channels', channelBlock: C / 4, unitBytes: 4 * bytes, units: size / 4, channels: C / 4, inner: 1 };
  return { variant: 'Scalar', channelBlock: C, unitBytes: bytes, units: size, channels: C, inner };
}

/**
 * One launch over the units [base, base + units) (the whole tensor, or one slab of it). Every thread
 * keeps one channel per run it walks and writes about applyUnitsPerThread units (see apply.wgsl):
 * - by runs when a run is at least that long: ceil(inner' / applyUnitsPerThread) threads share
 *   each run of inner' units;
 * - else by period: segments of stride · applyUnitsPerThread units, each shared by `stride`
 *   threads, stride being the smallest multiple of the period C'·inner' that fills a workgroup
 *   (on CPU adapters up to PERIOD_MAX_UNITS_PER_THREAD units per thread, see there);
 * - or, on CPU adapters (tuning.contiguousUnitsPerThread) where runs are long, contiguously: thread t
 *   takes units [t·segment, (t+1)·segment), one run after another (elementwise-span.wgsl), segment
 *   being up to contiguousUnitsPerThread units.
 * Compact blocks per workgroup, because on SwiftShader each workgroup runs on one CPU core and a
 * walk of the whole tensor with one huge stride cost far more than a copy (docs/benchmark.md,
 * "Measurements behind the launch shapes").
 */
export interface ElementwiseLaunch {
  params: { units: number; base: number; channels: number; inner: number; stride: number; segment: number; firstRun: number; threads: number };
  runs: boolean;
  /** The contiguous walk (elementwise-span.wgsl, CONTIGUOUS): thread t takes units [t·segment, (t+1)·segment). */
  contiguous: boolean;
  grid: [number, number];
}

/**
 * Shortest run, in values, that the contiguous walk takes (tuning.contiguousUnitsPerThread): each
 * run a thread crosses costs it a loop exit and the channel's coefficients.
 */
export const CONTIGUOUS_MIN_RUN = 64;
/**
 * Fewest workgroups the contiguous walk shortens its threads for: a CPU adapter runs a workgroup on
 * one core, so a small tensor in one or two long-threaded workgroups would leave cores idle.
 */
export const CONTIGUOUS_MIN_WORKGROUPS = 8;
/**
 * Most units per thread of the walk by period on CPU adapters (with tuning.contiguousUnitsPerThread
 * set): longer threads than applyUnitsPerThread while the tensor keeps CONTIGUOUS_MIN_WORKGROUPS
 * workgroups. On SwiftShader 64 took NC and NHWC inference from 1.62–1.66× the copy to 1.39–1.53×
 * at 1–16 MB; 256 was no faster at 4 MB and slower at 16 MB.
 */
export const PERIOD_MAX_UNITS_PER_THREAD = 64;

/**
 * `contiguousKernel`: whether the kernel has the contiguous walk (apply and backward-apply of batch
 * norm do; the norms' apply does not).
 */
export function planElementwiseRange(shape: ElementwiseShape, base: number, units: number, tuning: KernelTuning, maxPerDimension: number, contiguousKernel = false): ElementwiseLaunch {
  const { channels, inner } = shape;
  const perThread = tuning.applyUnitsPerThread;
  const period = channels * inner;
  const valuesPerUnit = shape.variant === 'Scalar' ? 1 : 4;
  const contiguous = contiguousKernel && tuning.contiguousUnitsPerThread > 0 && inner > 1 && inner * valuesPerUnit >= CONTIGUOUS_MIN_RUN;
  const runs = !contiguous && inner > 1 && inner >= perThread;
  let stride: number;
  let threads: number;
  let segment = 0;
  let firstRun = 0;
  if (contiguous) {
    stride = 1;
    segment = Math.max(1, Math.min(tuning.contiguousUnitsPerThread, Math.ceil(units / (CONTIGUOUS_MIN_WORKGROUPS * tuning.workgroupSize))));
    threads = Math.ceil(units / segment);
  } else if (runs) {
    stride = Math.ceil(inner / perThread);
    firstRun = Math.floor(base / inner);
    const lastRun = Math.floor((base + units - 1) / inner);
    threads = (lastRun - firstRun + 1) * stride;
  } else {
    stride = period * Math.ceil(tuning.workgroupSize / period);
    const cpu = contiguousKernel && tuning.contiguousUnitsPerThread > 0;
    const longest = cpu ? Math.min(PERIOD_MAX_UNITS_PER_THREAD, Math.floor(units / (CONTIGUOUS_MIN_WORKGROUPS * stride))) : 0;
    segment = stride * Math.max(perThread, longest);
    threads = stride * Math.ceil(units / segment);
  }
  return {
    params: { units, base, channels, inner, stride, segment, firstRun, threads },
    runs,
    contiguous,
    grid: foldWorkgroups(Math.ceil(threads / tuning.workgroupSize), maxPerDimension),
  };
}

export interface SlabbedElementwise extends ElementwiseShape {
  slabs: (SlabLaunchPlan & { runs: boolean; contiguous: boolean })[];
}

/**
 * The launches over every slab, for elements of `bytes` bytes. A binding is whole 4-byte words: the
 * last slab of an odd count of float16 values binds the half word after it too (the buffer holds
 * it, see tensorBytes), which the kernels never touch (they stop at `units`).
 */
export function planSlabbedElementwise(view: ChannelView, tuning: KernelTuning, maxPerDimension: number, bindingBytes: number, bytes = 4): SlabbedElementwise {
  return planShapeSlabs(elementwiseShape(view, bytes), tuning, maxPerDimension, bindingBytes, true);
}

/** The launches over every slab of a shape in units (`contiguousKernel`: see planElementwiseRange). */
export function planShapeSlabs(shape: ElementwiseShape, tuning: KernelTuning, maxPerDimension: number, bindingBytes: number, contiguousKernel: boolean): SlabbedElementwise {
  const slabs = elementwiseSlabs(shape.units, shape.unitBytes, bindingBytes).map(({ firstUnit, units }) => ({
    ...planElementwiseRange(shape, firstUnit, units, tuning, maxPerDimension, contiguousKernel),
    binding: { offset: firstUnit * shape.unitBytes, size: tensorBytes(units * shape.unitBytes, 1), skip: 0 },
  }));
  return { ...shape, slabs };
}

export function planElementwiseWork(context: GpuContext, view: ChannelView, dtype: TensorDtype = 'float32'): SlabbedElementwise {
  checkTensorFits(context.device.limits, view, elementBytes(dtype));
  return planSlabbedElementwise(view, context.tuning, context.maxWorkgroupsPerDimension, context.bindingBytes, elementBytes(dtype));
}

/**
 * An elementwise kernel over every slab. `bind` lists the kernel's storage bindings in order,
 * passing each tensor-sized buffer through `slab` so that it is bound slab by slab.
 */
export function elementwiseLaunches(
  plan: SlabbedElementwise,
  kernel: Omit<Launch, 'params' | 'grid' | 'buffers'>,
  params: Record<string, number>,
  bind: (slab: (tensor: GPUBuffer) => GPUBufferBinding) => Launch['buffers'],
): Launch[] {
  return plan.slabs.map((slab) => ({
    ...kernel,
    // CONTIGUOUS only where set: the norms' apply kernels have no such walk (its default is false).
    constants: { ...kernel.constants, RUNS: slab.runs, ...(slab.contiguous ? { CONTIGUOUS: true } : {}) },
    params: { ...slab.params, ...params },
    buffers: bind((tensor) => slabOf(tensor, slab.binding)),
    grid: slab.grid,
  }));
}
