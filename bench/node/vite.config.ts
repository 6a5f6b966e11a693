/**
 * `npm run bench:bundle`: the Node bench (bench-gpu.ts) as one self-contained folder for a machine
 * with a GPU and Node, but no network and no npm install:
 *
 *   bench-gpu.mjs                 the runner, the library, the bench code, TF.js and the WGSL, in one file
 *   dist/<platform>-<arch>/dawn.node  Dawn from the `webgpu` package, where its loader looks for it
 *   LICENSE-webgpu.md, README.txt
 *
 * Built for the platform it runs on (dawn.node is native code); the folder must stay under
 * BUNDLE_LIMIT so that it travels as files.
 */
import { copyFileSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const root = fileURLToPath(new URL('../..', import.meta.url));
/** The bundle's default folder (ignored by git). */
export const bundleDir = join(root, '.bench', 'bench-gpu');
/** Largest bundle: it must fit in what a machine without network is sent. */
const BUNDLE_LIMIT = 60 * 1024 * 1024;

const readme = `Batch-normalization GPU benchmark (webgpu-batchnorm), self-contained.

Needs Node.js 20 or later and a GPU driver Dawn can use (Vulkan on Linux, Metal on macOS,
D3D12 on Windows) for the platform this folder was built on. No npm install, no network.

  node bench-gpu.mjs --quick --out result.json     # 36 cases; the CPU-path rows take most of the time
  node bench-gpu.mjs --smoke                       # 64 KB cases only: does it run?
  node bench-gpu.mjs --quick --no-tfjs             # without TF.js (its CPU backend is the slow part)
  node bench-gpu.mjs --analyze --sizes 16MB,256MB  # each kernel alone under several launch tunings
  node bench-gpu.mjs --help                        # every option (--adapter, --icd, --nominal-gbps, …)

It prints the adapter, a line per case (the copy's GB/s, our ratio to the copy floor, the error
against the float64 CPU reference) and a summary, and writes the JSON results with a chart (.svg)
and a markdown table beside them. A result off by more than 1e-3 makes it exit with status 1.
`;

function folderBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = statSync(path);
    total += stat.isDirectory() ? folderBytes(path) : stat.size;
  }
  return total;
}

/** Copies dawn.node (this platform's) and the small files beside the bundle, and checks the size. */
function dawnBeside(): Plugin {
  let outDir = bundleDir;
  return {
    name: 'bench-gpu-dawn',
    apply: 'build',
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    writeBundle() {
      const webgpuDir = dirname(createRequire(join(root, 'package.json')).resolve('webgpu/package.json'));
      const platform = `${process.platform}-${process.platform === 'darwin' ? 'universal' : process.arch}`;
      const from = join(webgpuDir, 'dist', platform);
      const to = join(outDir, 'dist', platform);
      mkdirSync(to, { recursive: true });
      // dawn.node and what it loads beside it (Windows: the DirectX shader compilers).
      for (const name of readdirSync(from)) copyFileSync(join(from, name), join(to, name));
      copyFileSync(join(webgpuDir, 'LICENSE.md'), join(outDir, 'LICENSE-webgpu.md'));
      writeFileSync(join(outDir, 'README.txt'), readme);
      const bytes = folderBytes(outDir);
      if (bytes > BUNDLE_LIMIT) throw new Error(`the bench bundle is ${(bytes / 2 ** 20).toFixed(1)} MiB, above the ${BUNDLE_LIMIT / 2 ** 20} MiB limit`);
      console.log(`bench bundle: ${outDir} (${(bytes / 2 ** 20).toFixed(1)} MiB, Dawn for ${platform})`);
    },
  };
}

export default defineConfig({
  root,
  logLevel: 'warn',
  // Node built-ins stay imports; everything else (the library, `webgpu`'s loader, WGSL) is inlined.
  ssr: { target: 'node', noExternal: true },
  build: {
    ssr: join(root, 'bench/node/bench-gpu.ts'),
    outDir: bundleDir,
    emptyOutDir: true,
    target: 'node20',
    minify: false,
    copyPublicDir: false,
    rolldownOptions: { output: { entryFileNames: 'bench-gpu.mjs', codeSplitting: false } },
  },
  plugins: [dawnBeside()],
});
