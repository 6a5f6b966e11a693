/**
 * The floor (bench/README.md, "The floor"): a plain vec4 copy (shaders/copy.wgsl), on the
 * benchmark's device, at the size of the case. `readVec4` of the same file reads without writing (for the analysis script).
 */
import copySource from '../../shaders/copy.wgsl?raw';

export interface CopyShape {
  workgroupSize: number;
  /** vec4s each thread copies: WORKGROUP_SIZE apart, or contiguous with walk 'segments'. */
  unitsPerThread: number;
  /** 'strided' (default, `copyVec4`) or 'segments' (`copySegments`: a contiguous run per thread). */
  walk?: 'strided' | 'segments';
}

/**
 * The floor's copies: each case times all of them beside the op and takes the fastest, so that the
 * floor is the fastest plain copy we have on the device at that size. On a GPU, strided walks (4
 * vec4s per thread keeps enough workgroups in flight at small sizes; 16 may win on large tensors).
 * On a CPU adapter (SwiftShader, lavapipe) the cost is per invocation and per loop step, and a
 * contiguous run per thread, unrolled by four, copied 4 MB in 1.4–1.6 ms in headless Chromium on
 * SwiftShader where the best strided walk took 2.2–2.4 ms (`npm run bench:analyze`); the run
 * length that wins depends on the size (16 KB has only 1024 vec4s), so two are timed.
 */
export function copyShapesFor(isFallbackAdapter: boolean): CopyShape[] {
  return isFallbackAdapter
    ? [
        { workgroupSize: 64, unitsPerThread: 16 },
        { workgroupSize: 16, unitsPerThread: 64, walk: 'segments' },
        { workgroupSize: 16, unitsPerThread: 256, walk: 'segments' },
      ]
    : [
        { workgroupSize: 64, unitsPerThread: 4 },
        { workgroupSize: 64, unitsPerThread: 16 },
      ];
}

export function describeCopyShape(shape: CopyShape): string {
  return `${shape.workgroupSize} threads × ${shape.unitsPerThread} vec4${shape.walk === 'segments' ? ' contiguous' : ''} each`;
}

type Entry = 'copyVec4' | 'readVec4';
type Kernel = Entry | 'copySegments';

const pipelines = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

function pipeline(device: GPUDevice, entry: Kernel, workgroupSize: number, unitsPerThread: number): GPUComputePipeline {
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
  const kernel: Kernel = entry === 'copyVec4' && tuning.walk === 'segments' ? 'copySegments' : entry;
  const pipe = pipeline(device, kernel, tuning.workgroupSize, tuning.unitsPerThread);
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

/** The floor of a case: every copy of copyShapesFor, timed beside the op; the fastest counts. */
export interface CopyFloor {
  /** One encode per copy shape, to time interleaved with the op (their samples first, in order). */
  readonly variants: ((encoder: GPUCommandEncoder) => void)[];
  /** Which of the variants' summaries is the floor: the fastest. */
  fastest(ms: number[]): number;
  /** What the floor's row timed, naming the shape that was fastest. */
  describe(index: number): string;
  destroy(): void;
}

export function copyFloor(device: GPUDevice, src: GPUBuffer, dst: GPUBuffer, words: number, shapes: CopyShape[]): CopyFloor {
  const kernels = shapes.map((shape) => copyKernel(device, src, dst, words, 'copyVec4', shape));
  return {
    variants: kernels.map((kernel) => (encoder: GPUCommandEncoder) => kernel.encode(encoder)),
    fastest: (ms) => ms.reduce((best, t, i) => (t < ms[best] ? i : best), 0),
    describe(index) {
      const parts = kernels[index].parts;
      return (
        `a vec4 copy of x into another buffer, the fastest of ${shapes.length} launch shapes timed (shaders/copy.wgsl, ${shapes.map(describeCopyShape).join('; ')}): ` +
        `${describeCopyShape(shapes[index])}${parts > 1 ? `, ${parts} dispatches of ≤ maxStorageBufferBindingSize each` : ''}`
      );
    },
    destroy() {
      for (const kernel of kernels) kernel.destroy();
    },
  };
}
