import type { GpuContext } from './context';
import { getPipeline, type OverrideConstants } from './pipelines';
import { shaderVariant, type ShaderSource } from './shader-sources';
import { packParams } from './uniforms';

/** One kernel launch: pipeline, uniform, bindings 1…n in order, grid. */
export interface Launch {
  /** The kernel; its subgroups variant runs instead when the context has subgroups. */
  shader: ShaderSource;
  entryPoint: string;
  constants: OverrideConstants;
  params: Record<string, number>;
  /**
   * Storage buffers for @binding(1), @binding(2), … (binding 0 is always the Params uniform): whole
   * buffers, or parts of them (a slab of a tensor larger than one binding).
   */
  buffers: (GPUBuffer | GPUBufferBinding)[];
  grid: [number, number];
}

/**
 * Where a compiled launch takes a binding from: the call's `slot`-th buffer (whole, or the part
 * `offset`/`size` of it), or a buffer that stays the same from call to call (the engine's scratch
 * and constants).
 */
type BindingSource = { slot: number; offset?: number; size?: number } | { fixed: GPUBufferBinding };

interface CompiledLaunch {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  label: string;
  uniform: GPUBuffer;
  /** The storage bindings, @binding(1), @binding(2), … in order. */
  sources: BindingSource[];
  grid: [number, number];
}

/**
 * The launches of one compute pass with everything looked up but the bind groups: pipelines,
 * layouts, uniform buffers, grids. It depends only on the call's sizes and options and on which of
 * its buffers are given (and which are one buffer), so a pass compiled once serves any buffers of
 * that description (program-cache.ts).
 */
export interface CompiledPass {
  descriptor: GPUComputePassDescriptor;
  launches: CompiledLaunch[];
  cleared: GPUBufferBinding[];
}

function bufferBinding(resource: GPUBuffer | GPUBufferBinding): GPUBufferBinding {
  return 'buffer' in resource ? resource : { buffer: resource };
}

/**
 * How every kernel with a `struct Params` is bound: its uniform at @binding(0), then its storage
 * buffers at @binding(1), @binding(2), … in the order given (the batch-norm launches' `buffers`,
 * the optimizers' `storage`). The binding numbers are the WGSL's; the host lists buffers in order.
 */
export function bindGroupEntries(uniform: GPUBuffer, buffers: readonly (GPUBuffer | GPUBufferBinding)[]): GPUBindGroupEntry[] {
  return [uniform, ...buffers].map((resource, binding) => ({ binding, resource: bufferBinding(resource) }));
}

/**
 * Device calls: pipelines (cached per device), uniform buffers (cached per engine), bind group
 * layouts. A launch buffer that is one of `slots` (the call's own buffers) becomes a slot
 * reference, bound anew for each call's buffers; the first of equal slots is the one referenced.
 */
export function compilePass(context: GpuContext, label: string, launches: Launch[], cleared: GPUBufferBinding[], slots: readonly GPUBuffer[]): CompiledPass {
  const compiled = launches.map((launch): CompiledLaunch => {
    const constants = { WORKGROUP_SIZE: context.tuning.workgroupSize, ...launch.constants };
    const pipeline = getPipeline(context.device, shaderVariant(launch.shader, context.subgroups), launch.entryPoint, constants);
    // Both variants of a kernel declare the same Params, so they share uniform buffers.
    const uniform = context.uniforms.get(launch.shader.name, packParams(launch.shader, launch.params));
    const sources = launch.buffers.map((resource): BindingSource => {
      const binding = bufferBinding(resource);
      const slot = slots.indexOf(binding.buffer);
      return slot < 0 ? { fixed: binding } : { slot, offset: binding.offset, size: binding.size };
    });
    return {
      pipeline,
      layout: pipeline.getBindGroupLayout(0),
      label: `BatchNorm.${launch.entryPoint}.bindings`,
      uniform,
      sources,
      grid: launch.grid,
    };
  });
  return { descriptor: { label: `BatchNorm.${label}` }, launches: compiled, cleared };
}

/** Device calls: one bind group per launch, for the call's buffers (`slots`, in compilePass's order). */
export function createBindGroups(device: GPUDevice, pass: CompiledPass, slots: readonly GPUBuffer[]): GPUBindGroup[] {
  return pass.launches.map(({ layout, label, uniform, sources }) =>
    device.createBindGroup({
      label,
      layout,
      entries: bindGroupEntries(
        uniform,
        sources.map((source) => ('fixed' in source ? source.fixed : { buffer: slots[source.slot], offset: source.offset, size: source.size })),
      ),
    }),
  );
}

/**
 * Records the launches as one compute pass, so they run in order with storage writes visible.
 * `cleared` buffers are zeroed first (outside the pass, as WebGPU requires). Encoder commands only:
 * no device call, so nothing here can fail before the caller's finish().
 */
export function recordPass(encoder: GPUCommandEncoder, pass: CompiledPass, groups: readonly GPUBindGroup[]): void {
  for (const { buffer, offset, size } of pass.cleared) encoder.clearBuffer(buffer, offset, size);
  const computePass = encoder.beginComputePass(pass.descriptor);
  const { launches } = pass;
  for (let i = 0; i < launches.length; i++) {
    computePass.setPipeline(launches[i].pipeline);
    computePass.setBindGroup(0, groups[i]);
    computePass.dispatchWorkgroups(launches[i].grid[0], launches[i].grid[1]);
  }
  computePass.end();
}

/** Compiles, binds and records launches on fixed buffers (nothing kept for a later call). */
export function encodeLaunches(context: GpuContext, encoder: GPUCommandEncoder, label: string, launches: Launch[], cleared: GPUBufferBinding[] = []): void {
  const pass = compilePass(context, label, launches, cleared, []);
  recordPass(encoder, pass, createBindGroups(context.device, pass, []));
}
