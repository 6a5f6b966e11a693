/**
 * One WebGPU device for the optimizer cases, with its buffer and bind-group creations counted (the
 * tests check that a step in steady state creates none) and its uncaptured errors collected.
 */
export interface CountedDevice {
  device: GPUDevice;
  counts: { buffers: number; bindGroups: number };
  uncaptured: string[];
}

let shared: Promise<CountedDevice> | undefined;

export function countedDevice(): Promise<CountedDevice> {
  shared ??= (async () => {
    const adapter = await navigator.gpu?.requestAdapter();
    if (!adapter) throw new Error('no WebGPU adapter');
    const device = await adapter.requestDevice({
      label: 'test.optimizers.device',
      requiredLimits: {
        maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
        maxBufferSize: adapter.limits.maxBufferSize,
      },
    });
    const counted: CountedDevice = { device, counts: { buffers: 0, bindGroups: 0 }, uncaptured: [] };
    const createBuffer = device.createBuffer.bind(device);
    const createBindGroup = device.createBindGroup.bind(device);
    device.createBuffer = (descriptor) => {
      counted.counts.buffers++;
      return createBuffer(descriptor);
    };
    device.createBindGroup = (descriptor) => {
      counted.counts.bindGroups++;
      return createBindGroup(descriptor);
    };
    device.addEventListener('uncapturederror', (event) => counted.uncaptured.push((event as GPUUncapturedErrorEvent).error.message));
    return counted;
  })();
  return shared;
}

/** Runs `work` inside validation and out-of-memory scopes; returns its result and the errors. */
export async function scoped<T>(device: GPUDevice, work: () => Promise<T>): Promise<{ result: T; gpuErrors: string[] }> {
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let outcome: { ok: true; value: T } | { ok: false; error: unknown };
  try {
    outcome = { ok: true, value: await work() };
  } catch (error) {
    outcome = { ok: false, error };
  }
  const gpuErrors: string[] = [];
  for (const error of [await device.popErrorScope(), await device.popErrorScope()]) if (error) gpuErrors.push(error.message);
  if (!outcome.ok) throw outcome.error;
  return { result: outcome.value, gpuErrors };
}
