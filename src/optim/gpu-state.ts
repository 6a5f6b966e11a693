import { CopyPlan, floatsAt } from '../gpu/readback';
import { withErrorScopes } from '../gpu/gpu-errors';
import type { GpuParam } from './gpu-param';
import type { OptimizerState, ParamState, ResolvedOptimizerOptions } from './types';

/**
 * Adds every state tensor and step count of `params` to `plan`; the returned function decodes them
 * from the staging buffer's bytes into a state dict. `options` are taken now (the learning rate
 * may change before the copy is read).
 */
export function planOptimizerState(plan: CopyPlan, options: ResolvedOptimizerOptions, params: readonly GpuParam[]): (bytes: ArrayBuffer) => OptimizerState {
  const layout = params.map((p) => ({
    step: plan.add(p.counter.buffer, p.counter.slot * 4, 4),
    states: [...p.states].map(([name, buffer]) => [name, plan.add(buffer, 0, p.length * 4)] as const),
  }));
  return (bytes) => {
    const paramStates: ParamState[] = params.map((p, i) => ({
      label: p.label,
      length: p.length,
      step: new Uint32Array(bytes, layout[i].step, 1)[0],
      buffers: Object.fromEntries(layout[i].states.map(([name, offset]) => [name, floatsAt(bytes, offset, p.length)])),
    }));
    return { options, params: paramStates };
  };
}

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
    const plan = new CopyPlan();
    const decode = planOptimizerState(plan, options, params);
    const staging = device.createBuffer({ label: `${label}.exportState.staging`, size: plan.byteLength, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    try {
      const encoder = device.createCommandEncoder({ label: `${label}.exportState` });
      plan.encode(encoder, staging);
      device.queue.submit([encoder.finish()]);
      await staging.mapAsync(GPUMapMode.READ);
      const bytes = staging.getMappedRange().slice(0);
      staging.unmap();
      return decode(bytes);
    } finally {
      staging.destroy();
    }
  });
}
