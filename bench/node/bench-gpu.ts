/**
 * The GPU benchmark without a browser: WebGPU through Dawn (the `webgpu` package's dawn.node) in
 * this Node process, measured by the same code as the browser bench (bench/page/case-runner.ts,
 * tfjs.ts: TF.js's WebGPU backend on the same Dawn) and reported in the same JSON contract. The
 * demo model's training step stays in the browser bench.
 *
 * Built by bench/node/vite.config.ts into one self-contained bench-gpu.mjs (library, WGSL and this
 * runner inlined) next to a copy of dawn.node: `npm run bench:bundle` writes the folder,
 * `npm run bench:node` builds it and runs it here. The folder needs only Node ≥ 20 and a Vulkan,
 * Metal or D3D12 driver: `node bench-gpu.mjs --quick --out result.json`.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import webgpuPackage from 'webgpu/package.json';
import { swiftShaderEnv } from '../../src/node/swiftshader';
import { tuningForAdapter } from '../../src/gpu/tuning';
import { analysisReport, runAnalysis, type AnalysisResult } from '../lib/analysis';
import { nodeUsage, parseArgs, type BenchArgs, type DawnChoice } from '../lib/args';
import { nodeDefaultOut, writeAtomic } from '../lib/outputs';
import { runBench } from '../lib/run-bench';
import type { BenchDriver } from '../lib/types';
import { analyze, analyzeCopy } from '../page/analyze';
import { createCaseRunner, type CaseRunner } from '../page/case-runner';

/** Set in the environment of the copy of this process that runs with the chosen driver's environment. */
const RESPAWNED = 'BENCH_GPU_DRIVER_ENV';

function log(text: string): void {
  process.stdout.write(`${text}\n`);
}

/**
 * Environment the Vulkan loader needs for `--icd` / `--swiftshader` (undefined: the system's
 * drivers, as found by Dawn). LD_LIBRARY_PATH (SwiftShader's own Vulkan loader, for systems that
 * have none) is read when a process starts, so this process runs a copy of itself with it.
 */
function driverEnv(choice: DawnChoice): Record<string, string> | undefined {
  if (choice.swiftshader) {
    const env = swiftShaderEnv();
    if (!env) throw new Error('--swiftshader: no SwiftShader found (vk_swiftshader_icd.json in PUPPETEER_EXECUTABLE_PATH\'s folder or a Chrome/Chromium install); install chromium, or give --icd FILE');
    return env;
  }
  if (choice.icd) {
    const icd = resolve(choice.icd);
    if (!existsSync(icd)) throw new Error(`--icd: no such file ${icd}`);
    return { VK_ICD_FILENAMES: icd };
  }
  return undefined;
}

/** Runs this script again with `env` added, forwarding its output and exit status. */
function respawn(env: Record<string, string>): Promise<number> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
      env: { ...process.env, ...env, [RESPAWNED]: '1' },
      stdio: 'inherit',
    });
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
    child.on('exit', (code, signal) => done(code ?? (signal ? 1 : 0)));
  });
}

/**
 * TF.js and its WebGPU backend, on the same Dawn: the backend takes its adapter from
 * navigator.gpu, which Node does not have (Node 21+ has a navigator without gpu).
 */
async function loadTfjs(gpu: GPU): Promise<{ module: typeof import('../page/tfjs') | undefined; reason: string }> {
  try {
    const current = (globalThis as { navigator?: Navigator }).navigator;
    Object.defineProperty(globalThis, 'navigator', {
      value: { userAgent: current?.userAgent ?? `Node.js/${process.version}`, language: current?.language ?? 'en', gpu },
      configurable: true,
      writable: true,
    });
    return { module: await import('../page/tfjs'), reason: '' };
  } catch (error) {
    return { module: undefined, reason: `TF.js did not load: ${(error as Error).message ?? String(error)}` };
  }
}

/** The oldest Node the bundle is built for (vite.config.ts: target node20). */
const MIN_NODE_MAJOR = 20;

async function main(args: BenchArgs): Promise<number> {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < MIN_NODE_MAJOR) log(`warning: Node ${process.version}; this bench is built for Node ${MIN_NODE_MAJOR} or later`);
  const env = driverEnv(args.dawn);
  if (env && !process.env[RESPAWNED]) {
    log(`Vulkan driver: ${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')}`);
    return respawn(env);
  }
  const flags = [
    // Dawn rounds timestamps down to multiples of 65.5 µs by default (as browsers do, against timing
    // attacks): coarser than a whole batch of a 16 MB copy on a fast GPU. A benchmark wants the clock.
    'disable-dawn-features=timestamp_quantization',
    ...(args.dawn.backend ? [`backend=${args.dawn.backend}`] : []),
    ...(args.dawn.adapter ? [`adapter=${args.dawn.adapter}`] : []),
  ];
  log(`loading Dawn (webgpu ${webgpuPackage.version}) for ${process.platform}-${process.arch}, flags ${flags.join(' ')} …`);
  let dawn: { create(flags: string[]): GPU; globals: object };
  try {
    dawn = (await import('webgpu')) as typeof dawn;
  } catch (error) {
    throw new Error(
      `cannot load dawn.node for ${process.platform}-${process.arch} (the folder holds dist/<platform>-<arch>/dawn.node beside bench-gpu.mjs; ` +
        `build one for this platform with npm run bench:bundle on it): ${(error as Error).message}`,
    );
  }
  // The measuring code uses GPUBufferUsage and friends as globals, as in a browser.
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create(flags);
  const runner = createCaseRunner(() => gpu);
  const tfjs = args.tfjs && !args.analyze ? await loadTfjs(gpu) : { module: undefined, reason: args.analyze ? '--analyze' : '--no-tfjs' };
  let device: GPUDevice | undefined;
  const driver: BenchDriver = {
    name: `Node ${process.version}, Dawn (webgpu ${webgpuPackage.version})`,
    origin: `${process.execPath}${process.env.VK_ICD_FILENAMES ? `; VK_ICD_FILENAMES=${process.env.VK_ICD_FILENAMES}` : ''}`,
    ...(tfjs.module ? { tfjs: (backend, plan) => tfjs.module!.measureTfjs(runner.current, backend, plan) } : { noTfjs: tfjs.reason }),
    notes: [`Dawn flags: ${flags.join(' ')} (GPU timestamps at the clock's resolution, not rounded to 65.5 µs).`],
    async init(limits) {
      let bench;
      try {
        bench = await runner.init(limits);
      } catch (error) {
        const message = (error as Error).message ?? String(error);
        // Dawn's message lists the adapters it found (none when no driver loaded).
        throw new Error(
          `${message}\n(no usable adapter: Dawn looks for the system's Vulkan loader and drivers (Metal on macOS, D3D12 on Windows); ` +
            'on Linux it needs libvulkan.so.1 and the GPU\'s Vulkan driver manifest (--icd FILE points at one, e.g. nvidia_icd.json, whose ' +
            'libGLX_nvidia.so.0 also needs libglvnd\'s libGLdispatch.so.0); ' +
            'on a machine without a GPU try --swiftshader (Chrome/Chromium installed) or --icd /usr/share/vulkan/icd.d/lvp_icd.json (Mesa 25 lavapipe); --adapter NAME picks one of several)',
        );
      }
      device = bench.device;
      return {
        runtime: `Node ${process.version} ${process.platform}-${process.arch}, Dawn (webgpu ${webgpuPackage.version})`,
        adapter: bench.adapter,
        features: bench.features,
        limits: bench.limits,
        timer: runner.ours.timer.method,
        tfjsVersion: tfjs.module?.tfjsVersion,
      };
    },
    prepare: (spec, options) => runner.prepare(spec, options),
    gpu: (plan) => runner.gpu(plan),
    cpu: (plan) => runner.cpu(plan),
    useTuning: async (tuning) => runner.ours.useTuning(tuning),
    autotune: (family, shapes) => runner.ours.gpu.autotune(shapes, { families: [family] }),
    release: () => runner.release(),
    async close() {
      // Dawn must have no work in flight when the process ends: finish, destroy, let it retire.
      if (!device) return;
      await device.queue.onSubmittedWorkDone();
      device.destroy();
      await new Promise((resolveDelay) => setTimeout(resolveDelay, 20));
    },
  };
  const command = `node bench-gpu.mjs${process.argv.length > 2 ? ' ' + process.argv.slice(2).join(' ') : ''}`;
  if (args.analyze) return analyzeHere(args, driver, runner, command);
  return runBench(args, driver, { command, out: resolve(args.out) });
}

/** `--analyze`: the kernels one by one on this process's device (bench/lib/analysis.ts), as JSON. */
async function analyzeHere(args: BenchArgs, driver: BenchDriver, runner: CaseRunner, command: string): Promise<number> {
  const out = resolve(args.out === nodeDefaultOut ? nodeDefaultOut.replace(/\.json$/, '-analysis.json') : args.out);
  const environment = await driver.init(args.deviceLimits);
  try {
    log(`adapter: ${[environment.adapter.vendor, environment.adapter.architecture, environment.adapter.description].filter(Boolean).join(' / ')}`);
    const software = args.tuning === 'adapter' && Object.keys(tuningForAdapter(environment.adapter)).length > 0;
    const { bench, timer } = runner.ours;
    const save = (result: AnalysisResult, complete: boolean) => writeAtomic(out, `${JSON.stringify(analysisReport(environment, command, software, result, complete), null, 1)}\n`);
    const result = await runAnalysis(
      {
        analyzeCopy: (elements, shapes, plan) => analyzeCopy(bench.device, timer, elements, shapes, plan),
        analyze: (layout, shape, tunings, plan) => analyze(bench.device, bench.adapter.isFallbackAdapter, timer, layout, shape, tunings, plan),
      },
      { layouts: args.layouts, sizes: args.sizes, software },
      log,
      (partial) => save(partial, false),
    );
    save(result, true);
    log(`\nwrote ${out}`);
  } finally {
    await driver.close();
  }
  return 0;
}

let args: BenchArgs | undefined;
try {
  args = parseArgs(process.argv.slice(2), 'node');
} catch (error) {
  console.error(String((error as Error).message ?? error));
  process.exitCode = 2;
}
if (args?.help) {
  log(nodeUsage);
} else if (args) {
  let status: number;
  try {
    status = await main(args);
  } catch (error) {
    console.error(`bench-gpu: ${(error as Error).stack ?? String(error)}`);
    status = 1;
  }
  // Dawn's objects may keep the event loop alive; everything is finished and destroyed by now.
  process.exit(status);
}
