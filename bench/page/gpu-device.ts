/**
 * The benchmark's own device: created here (not by the engine) so that it can ask for
 * `timestamp-query` and the buffer limits of the run (`--device-limits`), then handed to the engine
 * with `createBatchNorm({ device })`. The copy floor and our kernels run on this same device.
 */
import type { DeviceLimits, DeviceLimitsMode } from '../lib/types';

export interface BenchDevice {
  device: GPUDevice;
  timestamps: boolean;
  adapter: AdapterDetails;
  /** The device's features (what the bench asked for, of what the adapter has). */
  features: string[];
  /** The mode requested and the device's resulting storage limits. */
  limits: DeviceLimits;
}

/** What the report says of the adapter: its info, and what a reader comparing devices needs. */
export interface AdapterDetails {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  /** Every feature of the adapter (the device requests only some). */
  features: string[];
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
  /** The adapter's limits that bound our launches and tensors. */
  limits: Record<(typeof reportedLimits)[number], number>;
}

const reportedLimits = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupsPerDimension',
] as const;

/**
 * `adapter`: the adapter's maxStorageBufferBindingSize and maxBufferSize. `default`: the adapter's
 * maxBufferSize only (a tensor as large as the adapter allows can exist), with WebGPU's default
 * maxStorageBufferBindingSize (128 MiB), so that larger tensors must be bound in several parts.
 */
function requiredLimits(adapter: GPUAdapter, mode: DeviceLimitsMode): Record<string, number> {
  if (mode === 'default') return { maxBufferSize: adapter.limits.maxBufferSize };
  return {
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
    maxBufferSize: adapter.limits.maxBufferSize,
  };
}

/** `gpu`: navigator.gpu in a browser, Dawn's GPU object in Node. */
export async function createBenchDevice(mode: DeviceLimitsMode, gpu: GPU | undefined): Promise<BenchDevice> {
  if (!gpu) throw new Error('no navigator.gpu (WebGPU disabled, or not a secure context)');
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('requestAdapter() returned null');
  // shader-f16: the float16 kernels (`--dtype float16`) compile only on a device that has it.
  const wanted = ['timestamp-query', 'subgroups', 'shader-f16'] as GPUFeatureName[];
  const requiredFeatures = wanted.filter((feature) => adapter.features.has(feature));
  const device = await adapter.requestDevice({
    label: 'bench.device',
    requiredFeatures,
    requiredLimits: requiredLimits(adapter, mode),
  });
  // Destroyed at the end of a run on purpose: only a loss of another kind is news.
  device.lost.then((info) => info.reason !== 'destroyed' && console.error(`bench device lost: ${info.reason} ${info.message}`));
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean; subgroupMinSize?: number; subgroupMaxSize?: number };
  return {
    device,
    timestamps: device.features.has('timestamp-query'),
    adapter: {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      isFallbackAdapter: Boolean(info.isFallbackAdapter ?? (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter),
      features: [...adapter.features].sort(),
      ...(info.subgroupMinSize ? { subgroupMinSize: info.subgroupMinSize, subgroupMaxSize: info.subgroupMaxSize } : {}),
      limits: Object.fromEntries(reportedLimits.map((name) => [name, adapter.limits[name]])) as AdapterDetails['limits'],
    },
    features: [...device.features].sort(),
    limits: {
      requested: mode,
      maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
      maxBufferSize: device.limits.maxBufferSize,
    },
  };
}
