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

function bufferBinding(resource: GPUBuffer | GPUBufferBinding): GPUBufferBinding {
  return 'buffer' in resource ? resource : { buffer: resource };
}

/**
 * Records the launches as one compute pass, so they run in order with storage writes visible.
 * `cleared` buffers are zeroed first (outside the pass, as WebGPU requires).
 */
export function encodeLaunches(context: GpuContext, encoder: GPUCommandEncoder, label: string, launches: Launch[], cleared: GPUBufferBinding[] = []): void {
  for (const { buffer, offset, size } of cleared) encoder.clearBuffer(buffer, offset, size);
  const pass = encoder.beginComputePass({ label: `BatchNorm.${label}` });
  for (const launch of launches) {
    const constants = { WORKGROUP_SIZE: context.tuning.workgroupSize, ...launch.constants };
    const pipeline = getPipeline(context.device, shaderVariant(launch.shader, context.subgroups), launch.entryPoint, constants);
    // Both variants of a kernel declare the same Params, so they share uniform buffers.
    const uniform = context.uniforms.get(launch.shader.name, packParams(launch.shader, launch.params));
    const bindGroup = context.device.createBindGroup({
      label: `BatchNorm.${launch.entryPoint}.bindings`,
      layout: pipeline.getBindGroupLayout(0),
      entries: [uniform, ...launch.buffers].map((buffer, binding) => ({ binding, resource: bufferBinding(buffer) })),
    });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(launch.grid[0], launch.grid[1]);
  }
  pass.end();
}
