/**
 * The self-contained GPU bench (`npm run bench:bundle`): built by its Vite config, copied into an
 * empty folder with no node_modules anywhere above it, and run there by plain `node` on each
 * software Vulkan driver at hand. Its report must satisfy the same contract as the browser bench's,
 * with every result checked against the CPU reference.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { analysisCopyShapes, analysisTunings, type AnalysisReport, type AnalysisRow } from '../../bench/lib/analysis';
import { parseArgs } from '../../bench/lib/args';
import { shapeFor } from '../../bench/lib/cases';
import { normSpecs } from '../../bench/lib/run-bench';
import { batchNormOps, hasResidual, normOf } from '../../bench/lib/types';
import { checkReport, type Report } from '../../bench/lib/report';
import { ERROR_LIMIT, ERROR_LIMIT_FLOAT16 } from '../../bench/lib/table';
import { isCI } from '../setup/gpu-context';
import { describeNodeGpu } from './support';

const root = fileURLToPath(new URL('../..', import.meta.url));
/** Mesa's lavapipe (Mesa 25 or later; Dawn refuses older ones), where it is installed. */
const lavapipeIcd = '/usr/share/vulkan/icd.d/lvp_icd.json';
const smokeLayouts = ['NC', 'NHWC', 'NCHW'];
/** A smoke run with TF.js is ~30 s on SwiftShader alone; a machine shared with other work can take many times that. */
const RUN_TIMEOUT = 400_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the bundle in `cwd`; with `stopWhen`, sends it SIGTERM (as timeout(1) does) once its output matches. */
function runNode(cwd: string, args: string[], stopWhen?: RegExp, timeoutMs = RUN_TIMEOUT - 10_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    // No VK_ICD_FILENAMES or LD_LIBRARY_PATH from outside: the bundle chooses its driver by itself.
    const env = { ...process.env };
    delete env.VK_ICD_FILENAMES;
    delete env.LD_LIBRARY_PATH;
    const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let stopped = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (stopWhen && !stopped && stopWhen.test(stdout)) {
        stopped = true;
        child.kill('SIGTERM');
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node ${args.join(' ')} did not finish within ${timeoutMs} ms; stdout: ${stdout}; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function folderBytes(dir: string): number {
  return readdirSync(dir).reduce((sum, name) => {
    const stat = statSync(join(dir, name));
    return sum + (stat.isDirectory() ? folderBytes(join(dir, name)) : stat.size);
  }, 0);
}

function git(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`git ${args.join(' ')} exited with ${code}`))));
  });
}

/**
 * Runs the smoke bench in `folder` with the driver options `driver`, TF.js included or not;
 * returns the checked report.
 */
async function smokeRun(folder: string, driver: string[], withTfjs: boolean): Promise<{ run: Run; report: Report }> {
  const out = `result-${driver.join('-').replace(/[^a-z0-9-]/gi, '')}.json`;
  const run = await runNode(folder, ['bench-gpu.mjs', '--smoke', ...driver, ...(withTfjs ? [] : ['--no-tfjs']), '--out', out]);
  expect(run.code, `exit status; stdout:\n${run.stdout}\nstderr:\n${run.stderr}`).toBe(0);
  const report = JSON.parse(readFileSync(join(folder, out), 'utf8')) as Report;
  expect(checkReport(report)).toEqual([]);
  expect(existsSync(join(folder, out.replace(/\.json$/, '.svg')))).toBe(true);
  // The journal of rows as measured is gone once the results file is written.
  expect(existsSync(join(folder, out.replace(/\.json$/, '.partial.jsonl')))).toBe(false);
  // Every op × layout of the smoke set has its floor and our row, checked against the CPU path.
  for (const op of batchNormOps) {
    for (const layout of smokeLayouts) {
      const rows = report.cases.filter((row) => row.op === op && row.layout === layout);
      // TF.js has no fused residual add: its rows of the residual ops are skipped, with that reason.
      const tfjsRuns = withTfjs && !hasResidual(op);
      const impls = tfjsRuns ? ['copy', 'cpu', 'tfjs-cpu', 'tfjs-webgpu', 'webgpu'] : ['copy', 'cpu', 'webgpu'];
      if (withTfjs && !tfjsRuns) expect(report.skipped.filter((s) => s.op === op && s.layout === layout).map((s) => s.reason)).toContain('TF.js has no fused residual add (not run)');
      expect(rows.map((row) => row.impl).sort(), `${op} ${layout}`).toEqual(impls);
      const ours = rows.find((row) => row.impl === 'webgpu')!;
      expect(ours.reference).toMatch(/CPU path/);
      expect(ours.maxAbsErr).toBeLessThanOrEqual(ERROR_LIMIT);
      expect(Object.keys(ours.errors ?? {}).length).toBeGreaterThanOrEqual(op === 'inference' ? 1 : 3);
    }
  }
  // The norm family's cases of the smoke run (one shape per op): every implementation, TF.js composed.
  const norms = normSpecs(parseArgs(['--smoke'], 'node'), 1);
  expect(norms.length).toBeGreaterThanOrEqual(6);
  for (const { op, layout, shape } of norms) {
    const rows = report.cases.filter((row) => row.op === op && row.layout === layout && row.shape.join() === shape.join());
    expect(rows.map((row) => row.impl).sort(), `${op} ${layout}`).toEqual(withTfjs ? ['copy', 'cpu', 'tfjs-cpu', 'tfjs-webgpu', 'webgpu'] : ['copy', 'cpu', 'webgpu']);
    for (const row of rows.filter((r) => r.impl !== 'copy')) {
      expect(row.reference, `${row.impl} ${op}`).toMatch(/CPU path/);
      expect(row.maxAbsErr, `${row.impl} ${op}`).toBeLessThanOrEqual(ERROR_LIMIT);
    }
    // y or dx, the statistics (mean but for RMS norm, invStd) or the parameter gradients (dγ, and dβ but for RMS norm).
    const ours = rows.find((row) => row.impl === 'webgpu')!;
    expect(Object.keys(ours.errors ?? {}).length).toBe(normOf(op)!.kind === 'rms' ? 2 : 3);
    // Statistics, finalize and apply (RMS norm's forward one more), or the backward's three.
    expect(ours.dispatches, `${op} dispatches`).toBeGreaterThanOrEqual(3);
  }
  expect(report.browser).toMatch(/^Node v\d+.*Dawn \(webgpu /);
  // TF.js's WebGPU backend runs on the same Dawn (navigator.gpu provided by the bench).
  expect(report.tfjs).toMatch(withTfjs ? /^4\.\d+\.\d+$/ : /^not run: --no-tfjs/);
  expect(report.copyBandwidth!.peakGbps).toBeGreaterThan(0);
  expect(run.stdout).toMatch(/^adapter: /m);
  const cases = batchNormOps.length * smokeLayouts.length + norms.length;
  expect(run.stdout).toMatch(new RegExp(`^\\[${cases}/${cases}\\] `, 'm'));
  expect(run.stdout).toMatch(/^copy bandwidth, GB\/s/m);
  return { run, report };
}

describeNodeGpu('the self-contained GPU bench (bench:bundle)', () => {
  let built: string;
  let folder: string;

  beforeAll(async () => {
    built = mkdtempSync(join(tmpdir(), 'bench-gpu-build-'));
    await build({ configFile: join(root, 'bench/node/vite.config.ts'), logLevel: 'warn', build: { outDir: built } });
    // An empty folder with no node_modules above it: nothing can be resolved from the project.
    folder = mkdtempSync(join(tmpdir(), 'bench-gpu-run-'));
    cpSync(built, folder, { recursive: true });
  }, 300_000);

  afterAll(() => {
    for (const dir of [built, folder]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is one bench-gpu.mjs beside dawn.node, under 60 MiB, importing only Node built-ins', () => {
    const platform = `${process.platform}-${process.platform === 'darwin' ? 'universal' : process.arch}`;
    expect(existsSync(join(folder, 'dist', platform, 'dawn.node'))).toBe(true);
    expect(readdirSync(folder).sort()).toEqual(['LICENSE-webgpu.md', 'README.txt', 'bench-gpu.mjs', 'dist']);
    expect(folderBytes(folder)).toBeLessThanOrEqual(60 * 2 ** 20);
    const source = readFileSync(join(folder, 'bench-gpu.mjs'), 'utf8');
    const imported = [...source.matchAll(/^\s*import\s[^'"]*?from\s*["']([^"']+)["']/gm), ...source.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]);
    expect(imported.length).toBeGreaterThan(0);
    expect(imported.filter((name) => !isBuiltin(name))).toEqual([]);
    // The WGSL travels inside: the copy kernel's entry point is in the file.
    expect(source).toMatch(/fn copyVec4/);
  });

  it('runs from an empty folder on SwiftShader (--swiftshader), TF.js included, and writes a checked report', async () => {
    const { report } = await smokeRun(folder, ['--swiftshader'], true);
    expect(report.adapter.architecture).toBe('swiftshader');
    expect(report.adapter.isFallbackAdapter).toBe(true);
  }, RUN_TIMEOUT);

  // Under CI lavapipe is installed (.ci/run), so a missing driver fails this case; elsewhere it skips.
  it.skipIf(!existsSync(lavapipeIcd) && !isCI())(`runs from an empty folder on Mesa's lavapipe (--icd ${lavapipeIcd})`, async () => {
    expect(existsSync(lavapipeIcd), `${lavapipeIcd} is missing: install Mesa 25's mesa-vulkan-drivers (see docs/implementations.md)`).toBe(true);
    const { report } = await smokeRun(folder, ['--icd', lavapipeIcd, '--adapter', 'llvmpipe'], false);
    expect(report.adapter.description).toMatch(/llvmpipe/);
  }, RUN_TIMEOUT);

  // float16 kernels need shader-f16, which lavapipe has: one small case per kind of op.
  it.skipIf(!existsSync(lavapipeIcd) && !isCI())('--dtype float16 on lavapipe: float16 rows against floors of 2 bytes per value', async () => {
    expect(existsSync(lavapipeIcd), `${lavapipeIcd} is missing`).toBe(true);
    const out = 'result-f16.json';
    const run = await runNode(folder, ['bench-gpu.mjs', '--smoke', '--icd', lavapipeIcd, '--adapter', 'llvmpipe', '--dtype', 'float16', '--ops', 'inference,backward-residual,layer-norm', '--layouts', 'NC', '--out', out]);
    expect(run.code, `exit status; stdout:\n${run.stdout}\nstderr:\n${run.stderr}`).toBe(0);
    const report = JSON.parse(readFileSync(join(folder, out), 'utf8')) as Report;
    expect(report.dtype).toBe('float16');
    expect(checkReport(report)).toEqual([]);
    for (const [op, floor] of [['inference', 4], ['backward-residual', 12]] as const) {
      const rows = report.cases.filter((row) => row.op === op);
      expect(rows.map((row) => row.impl).sort(), op).toEqual(['copy', 'cpu', 'webgpu']);
      const ours = rows.find((row) => row.impl === 'webgpu')!;
      expect(ours.floorBytes).toBe(floor * ours.elements);
      expect(ours.reference).toMatch(/float16 inputs decoded/);
      // Rounding to float16 shows (a float32 kernel would be ~1e-6 off the unrounded reference), within the limit.
      expect(ours.maxAbsErr).toBeGreaterThan(1e-5);
      expect(ours.maxAbsErr).toBeLessThanOrEqual(ERROR_LIMIT_FLOAT16);
      expect(rows.find((row) => row.impl === 'cpu')!.maxAbsErr).toBeLessThanOrEqual(ERROR_LIMIT_FLOAT16);
    }
    expect(report.cases.find((row) => row.op === 'backward-residual' && row.impl === 'webgpu')!.errors?.dz).toBe(0);
    // The norm family runs float32 tensors only: its cases are listed as skipped, with why, not timed.
    expect(report.cases.filter((row) => row.op === 'layer-norm')).toEqual([]);
    expect(new Set(report.skipped.filter((s) => s.op === 'layer-norm').map((s) => s.reason))).toEqual(new Set(['float16: the norm family runs float32 tensors only']));
  }, RUN_TIMEOUT);

  it('--dtype float16 stops before timing where the adapter lacks shader-f16 (SwiftShader)', async () => {
    const run = await runNode(folder, ['bench-gpu.mjs', '--smoke', '--swiftshader', '--no-tfjs', '--dtype', 'float16', '--out', 'f16-none.json']);
    expect(run.code).not.toBe(0);
    expect(run.stdout + run.stderr).toMatch(/--dtype float16 needs the adapter feature 'shader-f16'/);
    expect(run.stdout).not.toMatch(/^\[1\//m);
    expect(existsSync(join(folder, 'f16-none.json'))).toBe(false);
  }, RUN_TIMEOUT);

  // The analysis a GPU run takes along (--analyze): here with a GPU's tunings (--tuning gpu-defaults)
  // on SwiftShader, so that every one of them is known to run before it meets a GPU.
  it('--analyze --tuning gpu-defaults: every GPU tuning and copy shape timed, written as JSON', async () => {
    const out = 'analysis.json';
    const run = await runNode(folder, ['bench-gpu.mjs', '--analyze', '--smoke', '--swiftshader', '--layouts', 'NCHW', '--tuning', 'gpu-defaults', '--out', out]);
    expect(run.code, `exit status; stdout:\n${run.stdout}\nstderr:\n${run.stderr}`).toBe(0);
    const report = JSON.parse(readFileSync(join(folder, out), 'utf8')) as AnalysisReport;
    expect(report).toMatchObject({ kind: 'analysis', software: false, complete: true, adapter: { architecture: 'swiftshader' } });
    expect(report.command).toMatch(/^node bench-gpu\.mjs --analyze /);
    const finite = (row: AnalysisRow) => row.ms > 0 && Number.isFinite(row.ms) && row.gbps > 0 && Number.isFinite(row.gbps) && row.msMin <= row.ms && row.ms <= row.msMax;
    expect(report.copy.map((c) => c.bytes)).toEqual([64 * 1024]);
    expect(report.copy[0].rows.map((row) => row.variant)).toEqual(analysisCopyShapes(false).map((shape) => `copyVec4 ${shape.workgroupSize} threads × ${shape.unitsPerThread} vec4`));
    expect(report.copy[0].rows.filter((row) => !finite(row))).toEqual([]);
    expect(report.cases.map((c) => [c.layout, c.shape])).toEqual([['NCHW', shapeFor('NCHW', 64 * 1024)]]);
    const { rows } = report.cases[0];
    const labels = analysisTunings(false).map((t) => t.label);
    expect([...new Set(rows.map((row) => row.tuning))]).toEqual(labels);
    // Per tuning: the floor's candidates, a read of x, each kernel alone and the three ops.
    for (const label of labels) {
      const variants = rows.filter((row) => row.tuning === label).map((row) => row.variant);
      expect(variants.filter((v) => v.startsWith('copy (a floor candidate')).length, label).toBeGreaterThanOrEqual(1);
      for (const part of ['read x only', 'stats alone', 'stats + finalize', 'apply alone', 'inference', 'forward-train', 'backward reduce alone', 'backward (']) {
        expect(variants.filter((v) => v.startsWith(part)), `${label}: ${part}`).toHaveLength(1);
      }
    }
    expect(rows.filter((row) => !finite(row))).toEqual([]);
    // Each tuning reaches the plans: the workgroup size shows in the kernels' launches.
    const statsLaunch = (label: string) => rows.find((row) => row.tuning === label && row.variant.startsWith('stats alone'))!.variant;
    expect(statsLaunch('GPU defaults')).toMatch(/workgroups of 256\b/);
    expect(statsLaunch(labels.find((l) => l.startsWith('workgroupSize 64'))!)).toMatch(/workgroups of 64\b/);
    expect(run.stdout).toMatch(/^copy kernel launch shapes, 64 KB$/m);
  }, RUN_TIMEOUT);

  // A time limit on a lent machine (timeout(1) sends SIGTERM) stops a run before it writes its
  // results: the rows measured so far are in NAME.partial.jsonl.
  it('stopped midway, leaves the rows it measured in NAME.partial.jsonl', async () => {
    const out = 'stopped.json';
    const run = await runNode(folder, ['bench-gpu.mjs', '--smoke', '--swiftshader', '--no-tfjs', '--out', out], /^\[ *2\/\d+\] /m);
    expect(run.stdout).toMatch(/^\[ *2\/\d+\] /m);
    expect(existsSync(join(folder, out))).toBe(false);
    const lines = readFileSync(join(folder, 'stopped.partial.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(lines[0]).toMatchObject({ command: expect.stringMatching(/^node bench-gpu\.mjs --smoke/), adapter: { architecture: 'swiftshader' } });
    expect(lines[0].cases).toBeGreaterThan(2);
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const line of lines.slice(1)) {
      expect(line.rows.map((row: { impl: string }) => row.impl).sort()).toEqual(['copy', 'cpu', 'webgpu']);
      expect(line.rows.find((row: { impl: string }) => row.impl === 'webgpu').maxAbsErr).toBeLessThanOrEqual(ERROR_LIMIT);
    }
  }, RUN_TIMEOUT);

  it('names the adapters it has when --adapter matches none, and fails', async () => {
    const run = await runNode(folder, ['bench-gpu.mjs', '--smoke', '--swiftshader', '--adapter', 'no-such-adapter', '--out', 'none.json']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/Available adapters:[\s\S]*SwiftShader/);
    expect(existsSync(join(folder, 'none.json'))).toBe(false);
  }, RUN_TIMEOUT);

  it('run from the repository with the npm script\'s output, leaves git status as it was', async () => {
    const script = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts['bench:node'] as string;
    const out = /--out (\S+)/.exec(script)![1];
    const before = await git(['status', '--porcelain', '--untracked-files=all']);
    const run = await runNode(root, [join(folder, 'bench-gpu.mjs'), '--smoke', '--swiftshader', '--no-tfjs', '--ops', 'inference', '--layouts', 'NC', '--out', out]);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(existsSync(join(root, out))).toBe(true);
    expect(await git(['status', '--porcelain', '--untracked-files=all'])).toBe(before);
  }, RUN_TIMEOUT);
});
