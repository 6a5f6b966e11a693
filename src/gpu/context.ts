import { ConstantBuffers } from './constant-buffers';
import { ProgramCache } from './program-cache';
import { ScratchBuffers } from './scratch';
import { bindingBytesOf } from './slabs';
import { usesSubgroups, type KernelTuning } from './tuning';
import { UniformCache } from './uniform-cache';

/** Everything an encode function needs from its engine: the device and the engine-owned buffers. */
export interface GpuContext {
  device: GPUDevice;
  tuning: KernelTuning;
  /** Launches use the subgroups variants of kernels that have one (shader-sources.ts). */
  subgroups: boolean;
  maxWorkgroupsPerDimension: number;
  /** Largest tensor binding, a multiple of `alignment`; larger tensors go in slabs (slabs.ts). */
  bindingBytes: number;
  /** minStorageBufferOffsetAlignment */
  alignment: number;
  uniforms: UniformCache;
  scratch: ScratchBuffers;
  constants: ConstantBuffers;
  /** Compiled passes and their bind groups of GPU-resident calls, reused while valid (program-cache.ts). */
  programs: ProgramCache;
}

export function createGpuContext(device: GPUDevice, tuning: KernelTuning): GpuContext {
  return {
    device,
    tuning,
    subgroups: usesSubgroups(device.features, tuning),
    maxWorkgroupsPerDimension: device.limits.maxComputeWorkgroupsPerDimension,
    bindingBytes: bindingBytesOf(device.limits, tuning.maxBindingBytes),
    alignment: device.limits.minStorageBufferOffsetAlignment,
    uniforms: new UniformCache(device),
    scratch: new ScratchBuffers(device, 'partials'),
    constants: new ConstantBuffers(device),
    programs: new ProgramCache(),
  };
}

export function destroyGpuContext(context: GpuContext): void {
  context.uniforms.destroy();
  context.scratch.destroy();
  context.constants.destroy();
  context.programs.clear();
}
