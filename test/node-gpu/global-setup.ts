import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import type { TestProject } from 'vitest/node';
import { isCI } from '../setup/gpu-context';
import { swiftShaderEnv } from '../../src/node/swiftshader';
import type { NodeGpuContext } from './context';

const root = fileURLToPath(new URL('../..', import.meta.url));
/**
 * The suite tests the library as a Node user gets it: built by the project's own Vite config (WGSL
 * inlined), loaded by plain Node. The build goes under node_modules/ so that the GPU host resolves
 * `webgpu` from the project's node_modules, as it would from an application's.
 */
export const libDir = `${root}node_modules/.cache/webgpu-batchnorm-node-gpu/`;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  rmSync(libDir, { recursive: true, force: true });
  mkdirSync(libDir, { recursive: true });
  await build({ root, configFile: `${root}vite.config.ts`, logLevel: 'warn', build: { outDir: libDir, emptyOutDir: true } });
  // node_modules/ ends the search for a package scope: say that these files are ES modules.
  writeFileSync(`${libDir}package.json`, '{ "type": "module" }\n');

  const env = swiftShaderEnv() ?? {};
  const lib = (await import(`${libDir}node.js`)) as typeof import('../../src/node/index');
  let reason: string;
  try {
    const bn = await lib.createNodeBatchNorm({ backend: 'webgpu', env });
    const description = `${bn.adapter!.description} (${bn.adapter!.vendor}, fallback adapter: ${bn.adapter!.isFallbackAdapter})`;
    await bn.dispose();
    console.log(`[node-gpu] Dawn adapter in the GPU host: ${description}; env ${JSON.stringify(env)}`);
    project.provide('nodeGpu', { available: true, libDir, env, adapterDescription: description } satisfies NodeGpuContext);
    return async () => {};
  } catch (error) {
    reason = `no Dawn adapter in Node: ${error instanceof Error ? error.message : String(error)}` +
      (Object.keys(env).length ? '' : ' (no SwiftShader found: install chromium, or point VK_ICD_FILENAMES at a Vulkan driver)');
  }
  if (isCI()) throw new Error(`Node GPU tests cannot run, and CI is set, so this run fails: ${reason}`);
  const warn = () => console.warn(`\n${'!'.repeat(78)}\n!! NODE GPU TESTS SKIPPED: ${reason}\n${'!'.repeat(78)}\n`);
  warn();
  project.provide('nodeGpu', { available: false, reason, libDir, env } satisfies NodeGpuContext);
  return async () => warn();
}
