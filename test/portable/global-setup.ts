import { mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import type { TestProject } from 'vitest/node';
import { isCI } from '../setup/gpu-context';
import type { PortableContext } from './context';
import { implementations, type ImplementationName } from './implementations';
import { readable, runPart } from './run-part';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Builds suite.ts (with the library, the page-side cases and the references it imports, WGSL
 * inlined) into one ES module, `<outDir>/portable-suite.js`, that any JavaScript runtime with a
 * WebGPU `GPU` object can import. Returns its path.
 */
async function buildPortableSuite(outDir: string): Promise<string> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  await build({
    root,
    configFile: false,
    logLevel: 'warn',
    build: {
      outDir,
      emptyOutDir: true,
      minify: false,
      // One self-contained file, modern enough for Node 20 and Deno.
      target: 'es2022',
      lib: { entry: `${root}test/portable/suite.ts`, formats: ['es'], fileName: () => 'portable-suite.js' },
      rolldownOptions: { output: { codeSplitting: false } },
    },
  });
  return `${outDir}/portable-suite.js`;
}

/**
 * For the project 'portable-<implementation>': builds the suite into one ES module, then asks that
 * implementation's runner for an adapter. Under CI a missing implementation fails the run here;
 * elsewhere the project's tests are skipped after a loud warning.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const name = project.name.replace(/^portable-/, '') as ImplementationName;
  const implementation = implementations[name];
  if (!implementation) throw new Error(`no portable implementation for project '${project.name}'`);
  let reason = implementation.missing();
  if (reason === undefined) {
    const suitePath = await buildPortableSuite(`${root}node_modules/.cache/webgpu-batchnorm-portable-${name}`);
    const probe = await runPart(name, suitePath, 'probe', 0);
    if (probe.code === 0 && probe.summary) {
      console.log(`[${project.name}] ${implementation.title}\n${readable(probe.output)}`);
      project.provide('portable', { available: true, implementation: name, suitePath, adapter: probe.summary.adapter.description } satisfies PortableContext);
      return async () => {};
    }
    reason = `its runner found no usable adapter (exit ${probe.code ?? probe.signal}):\n${readable(probe.output)}`;
  }
  if (isCI()) throw new Error(`${implementation.title} cannot run, and CI is set, so this run fails: ${reason}`);
  const warn = () => console.warn(`\n${'!'.repeat(78)}\n!! ${project.name.toUpperCase()} TESTS SKIPPED (${implementation.title}): ${reason}\n${'!'.repeat(78)}\n`);
  warn();
  project.provide('portable', { available: false, implementation: name, reason } satisfies PortableContext);
  return async () => warn();
}
