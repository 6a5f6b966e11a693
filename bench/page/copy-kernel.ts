/**
 * The floor (bench/README.md, "The floor"): a plain vec4 copy (shaders/copy.wgsl), on the
 * benchmark's device, at the size of the case. `readVec4` of the same file reads without writing (for the analysis script).
 */
import copySource from '../../shaders/copy.wgsl?raw';

export interface CopyShape {
  workgroupSize: number;
  /** vec4s each thread copies, WORKGROUP_SIZE apart. */
  unitsPerThread: number;
}

/**
 * Launch shape of the floor's copy: the fastest plain copy we measured (`npm run bench:analyze`).
 * On a CPU adapter (SwiftShader) the cost is per invocation, so fewer invocations doing more each
 * win: 16 vec4s per thread copies ~25% faster than 4 there. On a GPU, 4 vec4s per thread keeps
 * enough workgroups in flight at small sizes.
 */
export function copyShapeFor(isFallbackAdapter: boolean): CopyShape {
  return isFallbackAdapter ? { workgroupSize: 64, unitsPerThread: 16 } : { workgroupSize: 64, unitsPerThread: 4 };
}

type Entry = 'copyVec4' | 'readVec4';

const pipelines = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

function pipeline(device: GPUDevice, entry: Entry, workgroupSize: number, unitsPerThread: number): GPUComputePipeline {
  let cache = pipelines.get(device);
  if (!cache) pipelines.set(device, (cache = new Map()));
  const key = `${entry}:${workgroupSize}:${unitsPerThread}`;
  let found = cache.get(key);
  if (!found) {
    const module = device.createShaderModule({ label: 'bench.copy', code: copySource });
    found = device.createComputePipeline({
      label: `bench.${entry}(${workgroupSize}x${unitsPerThread})`,
      layout: 'auto',
      compute: { module, entryPoint: entry, constants: { WORKGROUP_SIZE: workgroupSize, UNITS_PER_THREAD: unitsPerThread } },
    });
    cache.set(key, found);
  }
  return found;
}

/** Folds a 1-D workgroup count into 2-D when it exceeds the per-dimension limit. */
function grid(workgroups: number, maxPerDimension: number): [number, number] {
  if (workgroups <= maxPerDimension) return [Math.max(1, workgroups), 1];
  const y = Math.ceil(workgroups / maxPerDimension);
  return [Math.ceil(workgroups / y), y];
}

export interface CopyKernel {
  encode(encoder: GPUCommandEncoder): void;
  destroy(): void;
  /** Dispatches per encode: one per binding-sized part of the tensor. */
  readonly parts: number;
}

/**
 * Vec4 units per binding: the largest run of whole vec4s, starting at an aligned offset, that fits
 * the device's maxStorageBufferBindingSize. A tensor larger than that (e.g. 512 MB with WebGPU's
 * default 128 MiB) is copied in several dispatches, each binding its own part of src and dst.
 */
export function unitsPerBinding(limits: { maxStorageBufferBindingSize: number; minStorageBufferOffsetAlignment: number }): number {
  const align = Math.max(16, limits.minStorageBufferOffsetAlignment);
  return Math.floor(limits.maxStorageBufferBindingSize / align) * (align / 16);
}

/**
 * Records `dst = src` over `elements` float32 values (a multiple of 4), or with entry 'readVec4'
 * a read of src that writes one vec4 per thread into a small buffer of its own. One compute pass,
 * one dispatch per binding-sized part of the tensor (one for most sizes).
 */
export function copyKernel(
  device: GPUDevice,
  src: GPUBuffer,
  dst: GPUBuffer | undefined,
  elements: number,
  entry: Entry = 'copyVec4',
  tuning: CopyShape = { workgroupSize: 64, unitsPerThread: 4 },
): CopyKernel {
  const units = elements / 4;
  const perWorkgroup = tuning.workgroupSize * tuning.unitsPerThread;
  const partUnits = Math.min(units, unitsPerBinding(device.limits));
  const owned: GPUBuffer[] = [];
  let sums: GPUBuffer | undefined;
  if (entry === 'readVec4') {
    // Shared by the parts: its contents only keep the loads alive.
    sums = device.createBuffer({ label: 'bench.read.sums', size: Math.ceil(partUnits / perWorkgroup) * tuning.workgroupSize * 16, usage: GPUBufferUsage.STORAGE });
    owned.push(sums);
  } else if (!dst) {
    throw new Error('copyKernel needs a destination buffer');
  }
  const pipe = pipeline(device, entry, tuning.workgroupSize, tuning.unitsPerThread);
  const parts: { bindGroup: GPUBindGroup; grid: [number, number] }[] = [];
  for (let first = 0, index = 0; first < units; first += partUnits, index++) {
    const count = Math.min(partUnits, units - first);
    const params = device.createBuffer({ label: `bench.copy.params[${index}]`, size: 16, usage: GPUBufferUsage.UNIFORM, mappedAtCreation: true });
    new Uint32Array(params.getMappedRange())[0] = count;
    params.unmap();
    owned.push(params);
    const part = { offset: first * 16, size: count * 16 };
    const target: GPUBufferBinding = sums ? { buffer: sums } : { buffer: dst as GPUBuffer, ...part };
    parts.push({
      bindGroup: device.createBindGroup({
        label: `bench.${entry}.bindings[${index}]`,
        layout: pipe.getBindGroupLayout(0),
        entries: [{ buffer: params }, { buffer: src, ...part }, target].map((resource, binding) => ({ binding, resource })),
      }),
      grid: grid(Math.ceil(count / perWorkgroup), device.limits.maxComputeWorkgroupsPerDimension),
    });
  }
  return {
    parts: parts.length,
    encode(encoder) {
      const pass = encoder.beginComputePass({ label: `bench.${entry}` });
      pass.setPipeline(pipe);
      for (const part of parts) {
        pass.setBindGroup(0, part.bindGroup);
        pass.dispatchWorkgroups(...part.grid);
      }
      pass.end();
    },
    destroy() {
      for (const buffer of owned) buffer.destroy();
    },
  };
}
