import { BatchNormError } from '../errors';
import type { ChannelView } from '../layout';
import type { GpuContext } from './context';
import type { Launch } from './dispatch';
import type { OverrideConstants } from './pipelines';
import { planSlabbedElementwise, planSlabbedReduction, type SlabbedElementwise, type SlabbedReduction } from './plan-slabs';
import { shaders } from './shader-sources';
import { MAX_TENSOR_ELEMENTS, type SlabBinding } from './slabs';

/**
 * Launches of the tensor-sized kernels, one per slab (slabs.ts): the reductions (statistics,
 * backward sums) and the elementwise kernels (apply, backward-apply). Planning is pure and may
 * throw 'too-large', so the encoders plan while checking arguments, before any device call.
 */

/** Bytes of one partial: (count, shifted mean, M2, pivot) for statistics, (Σ dy, Σ dy·(x − mean)) for backward. */
const partialBytes = { stats: 16, backwardReduce: 8 } as const;
export type ReductionKernel = keyof typeof partialBytes;

export interface ReductionWork {
  kernel: ReductionKernel;
  plan: SlabbedReduction;
  /** Bytes of partials all slabs write together. */
  partialsBytes: number;
}

/** Refuses, before any GPU work, a tensor the device cannot hold or the kernels cannot index. */
export function checkTensorFits(context: GpuContext, view: ChannelView): void {
  const bytes = view.size * 4;
  const { maxBufferSize } = context.device.limits;
  if (bytes > maxBufferSize) {
    throw new BatchNormError('too-large', `a tensor of ${view.size} values (${bytes} bytes) exceeds this device's maxBufferSize of ${maxBufferSize} bytes`);
  }
  if (view.size > MAX_TENSOR_ELEMENTS) throw new BatchNormError('too-large', `a tensor of ${view.size} values exceeds the 2^32 − 1 the kernels can index`);
}

export function planReduction(context: GpuContext, view: ChannelView, kernel: ReductionKernel): ReductionWork {
  checkTensorFits(context, view);
  const plan = planSlabbedReduction(view, context.tuning, context.maxWorkgroupsPerDimension, context.bindingBytes, context.alignment);
  const partialsBytes = plan.chunks * view.channels * partialBytes[kernel];
  const limit = context.device.limits.maxStorageBufferBindingSize;
  if (partialsBytes > limit) {
    throw new BatchNormError('too-large', `${view.channels} channels in ${plan.slabs.length} slabs need ${partialsBytes} bytes of partial sums, more than one ${limit}-byte binding`);
  }
  return { kernel, plan, partialsBytes };
}

function slabOf(buffer: GPUBuffer, binding: SlabBinding): GPUBufferBinding {
  return { buffer, offset: binding.offset, size: binding.size };
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
    shader: shaders[`${kernel}${plan.shape}`],
    entryPoint: `${kernel}${plan.shape}${slab.walk}${slab.width}`,
    constants,
    params: slab.params,
    buffers: [...tensors.map((buffer) => slabOf(buffer, slab.binding)), ...shared, partials],
    grid: slab.grid,
  }));
  return { launches, partials, cleared: plan.zeroFill ? [partials] : [] };
}

export function planElementwiseWork(context: GpuContext, view: ChannelView): SlabbedElementwise {
  checkTensorFits(context, view);
  return planSlabbedElementwise(view, context.tuning, context.maxWorkgroupsPerDimension, context.bindingBytes);
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
    constants: { ...kernel.constants, RUNS: slab.runs },
    params: { ...slab.params, ...params },
    buffers: bind((tensor) => slabOf(tensor, slab.binding)),
    grid: slab.grid,
  }));
}
