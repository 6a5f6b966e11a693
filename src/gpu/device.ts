import { BatchNormError } from '../errors';
import type { AdapterSummary } from '../types';

/** What the engine needs of `navigator.gpu`; any implementation of it will do. */
export type GpuEntry = Pick<GPU, 'requestAdapter'>;

export interface AcquiredDevice {
  device: GPUDevice;
  adapter: AdapterSummary;
  /** True when the engine created the device and must destroy it on dispose. */
  owned: boolean;
}

function summarize(info: GPUAdapterInfo | undefined, isFallback: boolean): AdapterSummary {
  return {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    device: info?.device ?? '',
    description: info?.description ?? '',
    isFallbackAdapter: isFallback,
  };
}

const wantedFeatures: GPUFeatureName[] = ['timestamp-query', 'subgroups' as GPUFeatureName];

/**
 * Creates a device on the best adapter, asking for the adapter's own buffer limits (the defaults
 * cap storage bindings at 128 MiB) and for the optional features the kernels can use.
 */
export async function acquireDevice(gpu: GpuEntry | undefined): Promise<AcquiredDevice> {
  if (!gpu) throw new BatchNormError('webgpu-unavailable', 'WebGPU is not available here (no navigator.gpu; pages must be served over https or from localhost)');
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new BatchNormError('webgpu-unavailable', 'WebGPU is present but no adapter was found');
  const requiredFeatures = wantedFeatures.filter((feature) => adapter.features.has(feature));
  const device = await adapter.requestDevice({
    label: 'BatchNorm.device',
    requiredFeatures,
    requiredLimits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
    },
  });
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const isFallback = Boolean(info?.isFallbackAdapter ?? (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter);
  return { device, adapter: summarize(adapter.info, isFallback), owned: true };
}

/** Wraps a device the host application owns; it is used, never destroyed. */
export function borrowDevice(device: GPUDevice): AcquiredDevice {
  const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  const isFallback = Boolean((info as (GPUAdapterInfo & { isFallbackAdapter?: boolean }) | undefined)?.isFallbackAdapter);
  return { device, adapter: summarize(info, isFallback), owned: false };
}
