import { GpuBatchNorm } from '../gpu/gpu-batchnorm';
import { resolveTuning } from '../gpu/tuning';

/**
 * One kernel engine per GPUDevice, built on TF.js's device the first time an op runs there. Its
 * pipelines, uniforms and scratch buffers are created once and reused by every later step.
 */
const engines = new WeakMap<GPUDevice, GpuBatchNorm>();

export function engineFor(device: GPUDevice): GpuBatchNorm {
  let engine = engines.get(device);
  if (!engine) {
    engine = new GpuBatchNorm(device, resolveTuning(undefined, device.limits.maxComputeInvocationsPerWorkgroup));
    engines.set(device, engine);
  }
  return engine;
}

/** The engine already built on this device, if any (for inspection: its `liveBuffers`). */
export function existingEngine(device: GPUDevice): GpuBatchNorm | undefined {
  return engines.get(device);
}
