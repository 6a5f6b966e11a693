import { mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Builds suite.ts (with the library, the page-side cases and the references it imports, WGSL
 * inlined) into one ES module, `<outDir>/portable-suite.js`, that any JavaScript runtime with a
 * WebGPU `GPU` object can import. Returns its path.
 */
export async function buildPortableSuite(outDir: string): Promise<string> {
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
