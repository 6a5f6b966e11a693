import { borrowDevice } from '../gpu/device';
import { createGpuKernels, type GpuBatchNorm, type GpuKernelOptions } from '../gpu/gpu-batchnorm';

/**
 * One kernel engine per GPUDevice, built on TF.js's device the first time an op runs there, as
 * createBatchNorm({ device }) would build it: the tuning of the device's adapter (software adapters
 * such as SwiftShader get theirs), then `options`. Its pipelines, uniforms, scratch buffers and
 * bind groups are created once and reused by every later step.
 */
const engines = new WeakMap<GPUDevice, GpuBatchNorm>();

export function engineFor(device: GPUDevice, options?: GpuKernelOptions): GpuBatchNorm {
  let engine = engines.get(device);
  if (!engine) {
    engine = createGpuKernels(device, borrowDevice(device).adapter, options);
    engines.set(device, engine);
  }
  return engine;
}

/** The engine already built on this device, if any (for inspection: its `liveBuffers`, its `tuning`). */
export function existingEngine(device: GPUDevice): GpuBatchNorm | undefined {
  return engines.get(device);
}
