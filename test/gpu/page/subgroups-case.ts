/**
 * Which workgroup sums the engine's kernels run (src/gpu/shader-sources.ts): on a device with the
 * `subgroups` feature the engine builds the subgroups variants of the 'Runs' reductions, unless
 * tuning.useSubgroups is false; and every variant of every kernel compiles on the device.
 */
import { shaderModuleNames } from '../../../src/gpu/pipelines';
import { shaders, type ShaderSource } from '../../../src/gpu/shader-sources';
import { createRng, normals } from '../../support/random';
import { engineFor } from './case-engines';

export interface EngineModules {
  deviceHasSubgroups: boolean;
  /** Shader modules the engine built for a training forward and backward of an NCHW tensor. */
  modules: string[];
}

export interface SubgroupsReport {
  adapterArchitecture: string;
  adapterFeatures: string[];
  subgroupMinSize: number | undefined;
  subgroupMaxSize: number | undefined;
  engines: { default: EngineModules; fallback: EngineModules };
  /** Every module variant compiled on the default engine's device: its errors and warnings. */
  compiled: string[];
  compileMessages: string[];
}

async function modulesOf(useSubgroups: boolean | undefined): Promise<EngineModules> {
  // The three-kernel path for this small tensor, then the one-dispatch kernels.
  const modules = [...(await modulesFor(useSubgroups, false)), ...(await modulesFor(useSubgroups, true))];
  const device = (await engineFor(useSubgroups === undefined ? { oneDispatch: false } : { useSubgroups, oneDispatch: false })).gpu!.device;
  return { deviceHasSubgroups: device.features.has('subgroups'), modules: [...new Set(modules)].sort() };
}

async function modulesFor(useSubgroups: boolean | undefined, oneDispatch: boolean): Promise<string[]> {
  // runSegments false: the one-dispatch kernels with workgroup sums, which GPUs run.
  const tuning = oneDispatch ? { oneDispatch, runSegments: false } : { oneDispatch };
  const bn = await engineFor(useSubgroups === undefined ? tuning : { useSubgroups, ...tuning });
  const device = bn.gpu!.device;
  const shape = [2, 3, 4, 4];
  const rng = createRng(7);
  const x = normals(rng, 96, 0, 1);
  const out = await bn.forwardTrain(x, { shape, layout: 'NCHW' });
  await bn.backward(normals(rng, 96, 0, 1), x, { shape, layout: 'NCHW' }, out);
  return shaderModuleNames(device);
}

export async function runSubgroupsCase(): Promise<SubgroupsReport> {
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter');
  const engines = { default: await modulesOf(undefined), fallback: await modulesOf(false) };
  const device = (await engineFor(undefined)).gpu!.device;
  const kernels: ShaderSource[] = Object.values(shaders);
  const variants = kernels.flatMap((shader) => (shader.subgroups && device.features.has('subgroups') ? [shader, shader.subgroups] : [shader]));
  const compileMessages: string[] = [];
  for (const { name, code } of variants) {
    const module = device.createShaderModule({ label: `test.compile.${name}`, code });
    for (const m of (await module.getCompilationInfo()).messages) {
      if (m.type !== 'info') compileMessages.push(`${name}:${m.lineNum}:${m.linePos} ${m.type}: ${m.message}`);
    }
  }
  return {
    adapterArchitecture: adapter.info.architecture,
    adapterFeatures: [...adapter.features].sort(),
    subgroupMinSize: adapter.info.subgroupMinSize,
    subgroupMaxSize: adapter.info.subgroupMaxSize,
    engines,
    compiled: variants.map((v) => v.name),
    compileMessages,
  };
}
