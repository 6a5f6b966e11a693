/**
 * The benchmark's floor (bench/page/copy-kernel.ts): each copy shape it may time must copy every
 * value and nothing past the end, or the floor would be faster than a real copy and every ratio to
 * it worse than it is (or better, if it copied more).
 */
import { copyKernel, copyShapesFor, type CopyShape } from '../../../bench/page/copy-kernel';
import { readBuffer, storageBuffer } from './gpu-buffers';

export interface CopyFloorCaseArgs {
  /** float32 values per tensor (multiples of 4). */
  sizes: number[];
  /** Extra shapes beyond the floor's own (copyShapesFor, both adapter kinds). */
  shapes: CopyShape[];
}

export interface CopyFloorResult {
  shape: CopyShape;
  elements: number;
  /** Values of the destination that differ from the source (within the tensor). */
  wrong: number;
  /** Values past the tensor that the copy changed (from the poison). */
  pastEnd: number;
}

const POISON = -7.25;

export async function runCopyFloorCase({ sizes, shapes }: CopyFloorCaseArgs): Promise<CopyFloorResult[]> {
  const adapter = await navigator.gpu?.requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter');
  const device = await adapter.requestDevice({ label: 'test.copyFloor.device' });
  const all = [...copyShapesFor(true), ...copyShapesFor(false), ...shapes];
  const results: CopyFloorResult[] = [];
  try {
    for (const elements of sizes) {
      const source = Float32Array.from({ length: elements }, (_, i) => i + 0.5);
      // 64 values of poison past the tensor in both buffers: a copy running past its units shows.
      const padded = new Float32Array(elements + 64).fill(POISON);
      padded.set(source);
      const src = storageBuffer(device, 'copyFloor.src', padded);
      for (const shape of all) {
        const dst = storageBuffer(device, 'copyFloor.dst', new Float32Array(elements + 64).fill(POISON));
        const kernel = copyKernel(device, src, dst, elements, 'copyVec4', shape);
        const encoder = device.createCommandEncoder({ label: 'test.copyFloor' });
        kernel.encode(encoder);
        device.queue.submit([encoder.finish()]);
        const out = await readBuffer(device, dst, elements + 64);
        let wrong = 0;
        for (let i = 0; i < elements; i++) if (out[i] !== source[i]) wrong++;
        let pastEnd = 0;
        for (let i = elements; i < elements + 64; i++) if (out[i] !== POISON) pastEnd++;
        results.push({ shape, elements, wrong, pastEnd });
        kernel.destroy();
        dst.destroy();
      }
      src.destroy();
    }
  } finally {
    device.destroy();
  }
  return results;
}
