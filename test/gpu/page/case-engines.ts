/**
 * The engines the forward and backward cases run on: one per tuning and device kind for the whole
 * page, so each device compiles its pipelines once.
 * - 'engine': the engine's own device (the adapter's largest buffers and bindings);
 * - 'default-bindings': a borrowed device with WebGPU's default maxStorageBufferBindingSize
 *   (128 MiB) but the adapter's maxBufferSize, so a tensor can be larger than one binding.
 */
import { createBatchNorm, type BatchNorm } from '../../../src/index';
import { type KernelTuning } from '../../../src/advanced';

export type CaseDevice = 'engine' | 'default-bindings';

async function defaultBindingsDevice(): Promise<GPUDevice> {
  const adapter = await navigator.gpu?.requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter');
  return adapter.requestDevice({ label: 'test.defaultBindings.device', requiredLimits: { maxBufferSize: adapter.limits.maxBufferSize } });
}

const engines = new Map<string, Promise<BatchNorm>>();

export function engineFor(tuning: Partial<KernelTuning> | undefined, device: CaseDevice = 'engine'): Promise<BatchNorm> {
  const key = `${device}:${JSON.stringify(tuning ?? {})}`;
  let engine = engines.get(key);
  if (!engine) {
    engine = device === 'engine' ? createBatchNorm({ backend: 'webgpu', tuning }) : defaultBindingsDevice().then((borrowed) => createBatchNorm({ backend: 'webgpu', device: borrowed, tuning }));
    engines.set(key, engine);
  }
  return engine;
}
