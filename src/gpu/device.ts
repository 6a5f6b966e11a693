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

// shader-f16: the float16 modules of the kernels (dtype 'float16'), where the adapter has it.
const wantedFeatures: GPUFeatureName[] = ['timestamp-query', 'subgroups' as GPUFeatureName, 'shader-f16'];

/**
 * The most storage buffers one kernel binds in its compute stage: the forward's finalize (partials,
 * γ, β, running mean, running variance, statistics), the backward's finalize and Adam with amsgrad
 * bind six. Core WebGPU guarantees 8; compatibility-mode devices (OpenGL ES, D3D11) may offer fewer.
 */
export const STORAGE_BUFFERS_PER_KERNEL = 6;

/**
 * The one-dispatch kernels bind more: those of small tensors (fused-small.ts) the forward 7 (x, y,
 * statistics, γ, β and the running statistics), the backward 8 (x, dy, y, dx, statistics, γ, dgamma,
 * dbeta); inference folding in its apply (apply.wgsl) 8 (x, statistics, y, the residual z, γ, β and
 * the running statistics). A device below that runs the multi-pass kernels instead.
 */
export const FUSED_STORAGE_BUFFERS = { forward: 7, backward: 8, inference: 8 } as const;

/** Why a device with these limits cannot run the kernels, or undefined when it can. */
export function unsupportedReason(limits: Pick<GPUSupportedLimits, 'maxStorageBuffersPerShaderStage'>): string | undefined {
  const storage = limits.maxStorageBuffersPerShaderStage;
  if (!(storage >= STORAGE_BUFFERS_PER_KERNEL)) {
    return `it allows ${storage} storage buffers per shader stage; the batch-norm kernels bind up to ${STORAGE_BUFFERS_PER_KERNEL}`;
  }
  return undefined;
}

/**
 * Creates a device on the best adapter, asking for the adapter's own buffer limits (the defaults
 * cap storage bindings at 128 MiB) and for the optional features the kernels can use. Where only a
 * compatibility-mode adapter exists (OpenGL ES or D3D11 class hardware, which answers null to a
 * plain request), that one is used: the kernels stay within its limits, and an adapter below them
 * is refused before a device is created ('unsupported-device'; 'auto' then takes the CPU path).
 */
export async function acquireDevice(gpu: GpuEntry | undefined): Promise<AcquiredDevice> {
  if (!gpu) throw new BatchNormError('webgpu-unavailable', 'WebGPU is not available here (no navigator.gpu; pages must be served over https or from localhost)');
  const powerPreference = 'high-performance';
  const adapter =
    (await gpu.requestAdapter({ powerPreference })) ?? (await gpu.requestAdapter({ powerPreference, featureLevel: 'compatibility' } as GPURequestAdapterOptions));
  if (!adapter) throw new BatchNormError('webgpu-unavailable', 'WebGPU is present but no adapter was found');
  const reason = unsupportedReason(adapter.limits);
  if (reason) throw new BatchNormError('unsupported-device', `the WebGPU adapter cannot run batch norm: ${reason}`);
  const requiredFeatures = wantedFeatures.filter((feature) => adapter.features.has(feature));
  const device = await adapter.requestDevice({
    label: 'BatchNorm.device',
    requiredFeatures,
    requiredLimits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
      // Enough for the one-dispatch kernels where the adapter has it; never less than the kernels need.
      maxStorageBuffersPerShaderStage: Math.min(adapter.limits.maxStorageBuffersPerShaderStage, FUSED_STORAGE_BUFFERS.backward),
    },
  });
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const isFallback = Boolean(info?.isFallbackAdapter ?? (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter);
  return { device, adapter: summarize(adapter.info, isFallback), owned: true };
}

/** Wraps a device the host application owns; it is used, never destroyed. */
export function borrowDevice(device: GPUDevice): AcquiredDevice {
  const reason = unsupportedReason(device.limits);
  if (reason) throw new BatchNormError('unsupported-device', `this GPUDevice cannot run batch norm: ${reason}`);
  const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  const isFallback = Boolean((info as (GPUAdapterInfo & { isFallbackAdapter?: boolean }) | undefined)?.isFallbackAdapter);
  return { device, adapter: summarize(info, isFallback), owned: false };
}
