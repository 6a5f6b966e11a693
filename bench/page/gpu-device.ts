/**
 * The benchmark's own device: created here (not by the engine) so that it can ask for
 * `timestamp-query` and the adapter's buffer limits, then handed to the engine with
 * `createBatchNorm({ device })`. The copy floor and our kernels run on this same device.
 */
export interface BenchDevice {
  device: GPUDevice;
  timestamps: boolean;
  adapter: { vendor: string; architecture: string; device: string; description: string; isFallbackAdapter: boolean };
  features: string[];
}

export async function createBenchDevice(): Promise<BenchDevice> {
  if (!navigator.gpu) throw new Error('no navigator.gpu (WebGPU disabled, or not a secure context)');
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('navigator.gpu.requestAdapter() returned null');
  const wanted = ['timestamp-query', 'subgroups'] as GPUFeatureName[];
  const requiredFeatures = wanted.filter((feature) => adapter.features.has(feature));
  const device = await adapter.requestDevice({
    label: 'bench.device',
    requiredFeatures,
    requiredLimits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
    },
  });
  device.lost.then((info) => console.error(`bench device lost: ${info.reason} ${info.message}`));
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  return {
    device,
    timestamps: device.features.has('timestamp-query'),
    adapter: {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      isFallbackAdapter: Boolean(info.isFallbackAdapter ?? (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter),
    },
    features: [...device.features].sort(),
  };
}
