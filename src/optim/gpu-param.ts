import { BatchNormError } from '../errors';
import { bindGroupEntries } from '../gpu/dispatch';
import { foldWorkgroups } from '../gpu/slabs';
import { checkBuffer } from '../gpu/resident-options';
import { packParams } from '../gpu/uniforms';
import type { OptimizerBinding, OptimizerKernel } from './gpu-kernels';
import type { CounterSlot } from './step-counters';
import type { StateName } from './types';

/** One registered parameter and the GPU objects that update it, all made once in addParam. */
export interface GpuParam {
  label: string;
  length: number;
  param: GPUBuffer;
  grad: GPUBuffer;
  /** Its `struct Params`; rewritten only by setLearningRate / importState. */
  uniform: GPUBuffer;
  states: Map<StateName, GPUBuffer>;
  counter: CounterSlot;
  /** One dispatch per binding-sized segment (a single one unless the buffer exceeds a binding). */
  segments: { bindGroup: GPUBindGroup; grid: [number, number] }[];
}

/** What addParam needs from its optimizer. */
export interface ParamContext {
  device: GPUDevice;
  label: string;
  kernel: OptimizerKernel;
  pipeline: GPUComputePipeline;
  workgroupSize: number;
  /** Values per segment: a multiple of the storage offset alignment, within the binding limit. */
  segmentLength: number;
  states: readonly StateName[];
  /** Written-never buffers bound where the configuration keeps no such state. */
  placeholder(name: string): GPUBuffer;
}

/** Every check of addParam, before any GPU object is made: a rejected call changes nothing. */
export function checkParamArgs(param: unknown, grad: unknown, length: unknown, label: string, registered: readonly GpuParam[]): void {
  if (typeof length !== 'number' || !Number.isInteger(length) || length < 1) {
    throw new BatchNormError('invalid-option', `${label}: length must be a positive integer, got ${String(length)}`);
  }
  const p = checkBuffer(`${label}: param`, param, length * 4, GPUBufferUsage.STORAGE);
  const g = checkBuffer(`${label}: grad`, grad, length * 4, GPUBufferUsage.STORAGE);
  if (p === g) throw new BatchNormError('invalid-buffer', `${label}: param and grad must be different buffers`);
  for (const other of registered) {
    if (other.param === p) throw new BatchNormError('invalid-buffer', `${label}: this buffer is already registered as ${other.label}`);
    if (other.param === g) throw new BatchNormError('invalid-buffer', `${label}: grad is the registered parameter ${other.label}`);
    if (other.grad === p) throw new BatchNormError('invalid-buffer', `${label}: param is the gradient of ${other.label}`);
  }
}

function createUniform(ctx: ParamContext, label: string, values: Record<string, number>): GPUBuffer {
  const bytes = packParams(ctx.kernel.shader, values);
  const uniform = ctx.device.createBuffer({
    label: `${ctx.label}(${label}).params`,
    size: bytes.byteLength,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    mappedAtCreation: true,
  });
  new Uint8Array(uniform.getMappedRange()).set(new Uint8Array(bytes));
  uniform.unmap();
  return uniform;
}

export function createGpuParam(ctx: ParamContext, args: { param: GPUBuffer; grad: GPUBuffer; length: number; label: string; lr: number; counter: CounterSlot }): GpuParam {
  const { param, grad, length, label } = args;
  const uniform = createUniform(ctx, label, ctx.kernel.params(args.lr, args.counter.slot));
  const states = new Map<StateName, GPUBuffer>();
  for (const name of ctx.states) {
    // New buffers are zero: PyTorch's initial moments (SGD's buffer is set from the first gradient).
    const buffer = ctx.device.createBuffer({
      label: `${ctx.label}(${label}).${name}`,
      size: length * 4,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    states.set(name, buffer);
  }
  const segments: GpuParam['segments'] = [];
  for (let start = 0, index = 0; start < length; start += ctx.segmentLength, index++) {
    const range = { offset: start * 4, size: Math.min(ctx.segmentLength, length - start) * 4 };
    const bound = (binding: OptimizerBinding): GPUBufferBinding => {
      if (binding === 'steps') return { buffer: args.counter.buffer };
      if (binding === 'param') return { buffer: param, ...range };
      if (binding === 'grad') return { buffer: grad, ...range };
      const state = states.get(binding);
      return state ? { buffer: state, ...range } : { buffer: ctx.placeholder(binding) };
    };
    const bindGroup = ctx.device.createBindGroup({
      label: `${ctx.label}(${label})[${index}].bindings`,
      layout: ctx.pipeline.getBindGroupLayout(0),
      entries: bindGroupEntries(uniform, ctx.kernel.storage.map(bound)),
    });
    const workgroups = Math.ceil(range.size / 4 / ctx.workgroupSize);
    segments.push({ bindGroup, grid: foldWorkgroups(workgroups, ctx.device.limits.maxComputeWorkgroupsPerDimension) });
  }
  return { label, length, param, grad, uniform, states, counter: args.counter, segments };
}
