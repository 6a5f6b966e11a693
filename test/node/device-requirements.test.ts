import { describe, expect, it } from 'vitest';
import { createBatchNorm, createGpuOptimizer, BatchNormError } from '../../src/index';
import { acquireDevice, FUSED_STORAGE_BUFFERS, STORAGE_BUFFERS_PER_KERNEL } from '../../src/gpu/device';
import { shaders } from '../../src/gpu/shader-sources';
import { NORM_BACKWARD_STORAGE_BUFFERS } from '../../src/gpu/norms/norm-launches';
import { resolveTuning, softwareAdapterTuning } from '../../src/gpu/tuning';

/** Distinct binding numbers of storage buffers in a module: at least what its widest entry point binds. */
function storageBindings(code: string): number {
  const numbers = [...code.replace(/\/\/.*$/gm, '').matchAll(/@binding\(\s*(\d+)\s*\)\s*var<storage/g)].map((m) => m[1]);
  return new Set(numbers).size;
}

/** A device or adapter that throws on any use but reading its limits and features. */
function untouchable<T extends object>(what: string, fields: object): T {
  return new Proxy(fields, {
    get(target, key) {
      if (key in target) return target[key as keyof typeof target];
      if (key === 'then') return undefined;
      throw new Error(`${what}.${String(key)} was used`);
    },
  }) as T;
}

const smallDevice = () => untouchable<GPUDevice>('device', { limits: { maxStorageBuffersPerShaderStage: 4 }, features: new Set(), createBuffer: () => { throw new Error('device.createBuffer was called'); } });
const smallAdapter = (log: string[]) =>
  untouchable<GPUAdapter>('adapter', {
    limits: { maxStorageBuffersPerShaderStage: 4, maxStorageBufferBindingSize: 1 << 27, maxBufferSize: 1 << 28 },
    features: new Set(),
    info: { vendor: '', architecture: '', device: '', description: 'a compatibility-mode adapter' },
    requestDevice: async () => {
      log.push('requestDevice');
      throw new Error('requestDevice was called');
    },
  });
const code = (error: unknown) => (error instanceof BatchNormError ? error.code : String(error));

describe('devices below what the kernels need (compatibility mode)', () => {
  it(`STORAGE_BUFFERS_PER_KERNEL (${STORAGE_BUFFERS_PER_KERNEL}) is the most storage buffers any kernel module declares`, () => {
    const counts = Object.fromEntries(Object.values(shaders).map((s) => [s.name, storageBindings(s.code)]));
    const { 'fused-small-forward': fusedForward, 'fused-small-backward': fusedBackward, apply, 'norm-backward-rows': normRows, 'norm-backward-params': normParams, 'norm-backward-apply': normApply, 'norm-rows-backward': normRowsBackward, ...multiPass } = counts;
    expect(Math.max(...Object.values(multiPass))).toBe(STORAGE_BUFFERS_PER_KERNEL);
    expect(counts['finalize']).toBe(6);
    // The one-dispatch kernels, planned only on devices that allow them (fused-small.ts); apply.wgsl's
    // widest entry points are inference's, folding in the apply (its apply… ones bind 4).
    expect({ forward: fusedForward, backward: fusedBackward, inference: apply }).toEqual(FUSED_STORAGE_BUFFERS);
    // The norm backward (tensor-wide and row-wise kernels), refused on devices below it (norm-launches.ts).
    expect(Math.max(normRows, normParams, normApply, normRowsBackward)).toBe(NORM_BACKWARD_STORAGE_BUFFERS);
  });

  it('the default launch shapes fit a device of 128 invocations per workgroup; a size asked for is checked as given', () => {
    expect(resolveTuning(undefined, 256, {}).workgroupSize).toBe(256);
    expect(resolveTuning(undefined, 128, {}).workgroupSize).toBe(128);
    expect(resolveTuning(undefined, 128, softwareAdapterTuning).workgroupSize).toBe(64);
    expect(() => resolveTuning({ workgroupSize: 256 }, 128, {})).toThrow(expect.objectContaining({ code: 'invalid-option' }));
  });

  it("a borrowed device with 4 storage buffers per stage: 'unsupported-device' under 'webgpu', the CPU path under 'auto', the device untouched", async () => {
    await expect(createBatchNorm({ backend: 'webgpu', device: smallDevice() }).catch(code)).resolves.toBe('unsupported-device');
    const bn = await createBatchNorm({ device: smallDevice() });
    expect(bn.backend).toBe('cpu');
    const { y } = await bn.forwardTrain(new Float32Array([1, 2, 3, 5]), { shape: [2, 2] });
    expect(Array.from(y, (v) => Math.round(v))).toEqual([-1, -1, 1, 1]);
  });

  it("an adapter with 4 storage buffers per stage is refused before a device is requested; 'auto' takes the CPU path", async () => {
    const log: string[] = [];
    const gpu = { requestAdapter: async () => smallAdapter(log) };
    await expect(acquireDevice(gpu).catch(code)).resolves.toBe('unsupported-device');
    await expect(createBatchNorm({ backend: 'webgpu', gpu }).catch(code)).resolves.toBe('unsupported-device');
    expect((await createBatchNorm({ gpu })).backend).toBe('cpu');
    expect(log).toEqual([]);
  });

  it('createGpuOptimizer refuses such a device before making any GPU object', () => {
    expect(() => createGpuOptimizer(smallDevice(), { kind: 'adam', lr: 0.01 })).toThrow(expect.objectContaining({ code: 'unsupported-device' }));
  });

  it("uses a compatibility-mode adapter when a plain request finds none, asking for the kernels' storage buffers", async () => {
    const requests: unknown[] = [];
    const descriptors: GPUDeviceDescriptor[] = [];
    const device = { limits: { maxStorageBuffersPerShaderStage: 8 }, features: new Set() } as unknown as GPUDevice;
    const adapter = {
      limits: { maxStorageBuffersPerShaderStage: 8, maxStorageBufferBindingSize: 1 << 27, maxBufferSize: 1 << 28 },
      features: new Set(['subgroups']),
      info: { vendor: 'v', architecture: 'a', device: '', description: 'OpenGL ES' },
      requestDevice: async (descriptor: GPUDeviceDescriptor) => (descriptors.push(descriptor), device),
    } as unknown as GPUAdapter;
    const gpu = {
      requestAdapter: async (options?: GPURequestAdapterOptions & { featureLevel?: string }) => {
        requests.push(options);
        return options?.featureLevel === 'compatibility' ? adapter : null;
      },
    };
    const acquired = await acquireDevice(gpu);
    expect(acquired.device).toBe(device);
    expect(requests).toEqual([{ powerPreference: 'high-performance' }, { powerPreference: 'high-performance', featureLevel: 'compatibility' }]);
    // The adapter's own limit, up to what the one-dispatch kernels bind.
    expect(descriptors[0].requiredLimits).toMatchObject({ maxStorageBuffersPerShaderStage: Math.min(adapter.limits.maxStorageBuffersPerShaderStage, FUSED_STORAGE_BUFFERS.backward) });
    expect(descriptors[0].requiredFeatures).toEqual(['subgroups']);
  });

  it('asks for shader-f16 (the float16 kernels) where the adapter has it, and only there', async () => {
    const descriptors: GPUDeviceDescriptor[] = [];
    const adapterWith = (features: string[]) =>
      ({
        limits: { maxStorageBuffersPerShaderStage: 8, maxStorageBufferBindingSize: 1 << 27, maxBufferSize: 1 << 28 },
        features: new Set(features),
        info: { vendor: 'v', architecture: 'a', device: '', description: 'd' },
        requestDevice: async (descriptor: GPUDeviceDescriptor) => (descriptors.push(descriptor), { limits: { maxStorageBuffersPerShaderStage: 8 }, features: new Set() }),
      }) as unknown as GPUAdapter;
    await acquireDevice({ requestAdapter: async () => adapterWith(['shader-f16', 'timestamp-query']) });
    await acquireDevice({ requestAdapter: async () => adapterWith(['timestamp-query']) });
    expect(descriptors.map((d) => d.requiredFeatures)).toEqual([['timestamp-query', 'shader-f16'], ['timestamp-query']]);
  });
});
