import { withErrorScopes } from '../gpu/gpu-errors';
import type { GpuParam } from './gpu-param';
import type { OptimizerState, ParamState, ResolvedOptimizerOptions } from './types';

/**
 * exportState: copies every state tensor and step count into one staging buffer, in one submit
 * (ordered after everything submitted before), and reads it back.
 */
export async function readOptimizerState(
  device: GPUDevice,
  label: string,
  options: ResolvedOptimizerOptions,
  params: readonly GpuParam[],
): Promise<OptimizerState> {
  return withErrorScopes(device, `${label}.exportState`, async () => {
    const copies: { source: GPUBuffer; sourceOffset: number; offset: number; bytes: number }[] = [];
    let total = 0;
    const add = (source: GPUBuffer, sourceOffset: number, bytes: number) => {
      copies.push({ source, sourceOffset, offset: total, bytes });
      total += bytes;
      return copies.length - 1;
    };
    const layout = params.map((p) => ({
      step: add(p.counter.buffer, p.counter.slot * 4, 4),
      states: [...p.states].map(([name, buffer]) => [name, add(buffer, 0, p.length * 4)] as const),
    }));
    const staging = device.createBuffer({ label: `${label}.exportState.staging`, size: Math.max(4, total), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    try {
      const encoder = device.createCommandEncoder({ label: `${label}.exportState` });
      for (const c of copies) encoder.copyBufferToBuffer(c.source, c.sourceOffset, staging, c.offset, c.bytes);
      device.queue.submit([encoder.finish()]);
      await staging.mapAsync(GPUMapMode.READ);
      const bytes = staging.getMappedRange().slice(0);
      staging.unmap();
      const at = (index: number) => copies[index];
      const paramStates: ParamState[] = params.map((p, i) => ({
        label: p.label,
        length: p.length,
        step: new Uint32Array(bytes, at(layout[i].step).offset, 1)[0],
        buffers: Object.fromEntries(layout[i].states.map(([name, index]) => [name, new Float32Array(bytes, at(index).offset, p.length).slice()])),
      }));
      return { options, params: paramStates };
    } finally {
      staging.destroy();
    }
  });
}
