export type AdapterReport =
  | { available: false; reason: string }
  | {
      available: true;
      vendor: string;
      architecture: string;
      device: string;
      description: string;
      features: string[];
      limits: Record<string, number>;
    };

/** Limits the kernels depend on, reported so a failing run shows what the adapter offered. */
const reportedLimits = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupSizeX',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupsPerDimension',
] as const;

/** Whether this page can get a WebGPU adapter, and if so which one. Never throws. */
export async function adapterInfo(): Promise<AdapterReport> {
  if (!navigator.gpu) {
    return { available: false, reason: 'navigator.gpu is undefined (WebGPU disabled, or the page is not a secure context)' };
  }
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) return { available: false, reason: 'navigator.gpu.requestAdapter() returned null' };
  const { vendor, architecture, device, description } = adapter.info;
  const limits = Object.fromEntries(reportedLimits.map((name) => [name, adapter.limits[name]]));
  return { available: true, vendor, architecture, device, description, features: [...adapter.features].sort(), limits };
}
