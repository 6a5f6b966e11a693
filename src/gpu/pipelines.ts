import type { ShaderSource } from './shader-sources';

/**
 * Shader modules and compute pipelines, created once per device and kept in a WeakMap so they go
 * away with the device. Modules are keyed by shader name (a kernel's subgroups variant has its own,
 * see shader-sources.ts); pipelines by shader, entry point and override constants: sizes, eps and
 * momentum live in uniforms, so a training run needs only a handful of pipelines.
 */
interface DeviceCache {
  modules: Map<string, GPUShaderModule>;
  pipelines: Map<string, GPUComputePipeline>;
}

const caches = new WeakMap<GPUDevice, DeviceCache>();

function cacheOf(device: GPUDevice): DeviceCache {
  let cache = caches.get(device);
  if (!cache) {
    cache = { modules: new Map(), pipelines: new Map() };
    caches.set(device, cache);
  }
  return cache;
}

export type OverrideConstants = Record<string, number | boolean>;

export function getPipeline(
  device: GPUDevice,
  shader: ShaderSource,
  entryPoint: string,
  constants: OverrideConstants,
): GPUComputePipeline {
  const cache = cacheOf(device);
  const constantsKey = Object.keys(constants)
    .sort()
    .map((name) => `${name}=${constants[name]}`)
    .join(',');
  const key = `${shader.name}:${entryPoint}:${constantsKey}`;
  let pipeline = cache.pipelines.get(key);
  if (!pipeline) {
    let module = cache.modules.get(shader.name);
    if (!module) {
      module = device.createShaderModule({ label: `BatchNorm.${shader.name}`, code: shader.code });
      cache.modules.set(shader.name, module);
    }
    const numericConstants: Record<string, number> = {};
    for (const [name, value] of Object.entries(constants)) numericConstants[name] = Number(value);
    pipeline = device.createComputePipeline({
      label: `BatchNorm.${shader.name}.${entryPoint}(${constantsKey})`,
      layout: 'auto',
      compute: { module, entryPoint, constants: numericConstants },
    });
    cache.pipelines.set(key, pipeline);
  }
  return pipeline;
}

/** Number of pipelines built for a device, for tests that check the cache is used. */
export function pipelineCount(device: GPUDevice): number {
  return caches.get(device)?.pipelines.size ?? 0;
}

/** Names of the shader modules built for a device, for tests that check which variants run. */
export function shaderModuleNames(device: GPUDevice): string[] {
  return [...(caches.get(device)?.modules.keys() ?? [])];
}
