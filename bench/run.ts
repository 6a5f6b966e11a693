/**
 * `npm run bench`: our kernels, our CPU path, TF.js (WebGPU and CPU backends) and the copy floor,
 * side by side in one headless Chromium page, per op × layout × size. Prints a line per case, a
 * table and a summary at the end, and writes bench/results/latest.json (DESIGN §3 contract),
 * latest.svg (chart) and README-table.md (another --out NAME.json: NAME.svg and NAME-table.md).
 * `npm run bench:curve` runs it over 64 KB … 512 MB (see bench/README.md).
 * `npm run bench -- --help` lists the options.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { basename, dirname, resolve } from 'node:path';
import { parseArgs, usage, type BenchArgs } from './lib/args';
import { openBenchPage, call } from './lib/browser';
import { capOf, formatSize, shapeFor, elementsOf, MB } from './lib/cases';
import { renderChart } from './lib/chart';
import { linearity, linearityText } from './lib/linearity';
import { outputPaths } from './lib/outputs';
import { caseRows, checkReport, type CaseRow, type Report, type SkippedRow } from './lib/report';
import { closingTable, ERROR_LIMIT, isWrong, progressLine, readmeTable, summaryText } from './lib/table';
import type { CaseSpec, Impl, MeasuredRow, MissingRow, Op, TimingPlan } from './lib/types';
import type { KernelFamily } from '../src/gpu/tuning-classes';
import { repoRoot } from '../test/setup/launch';

/**
 * Repetition budgets (see bench/page/timing.ts): --quick trades repetitions for time. GPU rows of
 * tensors above LARGE_BYTES (one iteration takes seconds on a CPU adapter at 512 MB) calibrate
 * once and repeat 3–5 times.
 */
const plans: Record<'quick' | 'full', { gpu: TimingPlan; gpuLarge: TimingPlan; host: TimingPlan }> = {
  quick: {
    gpu: { targetBatchMs: 25, maxK: 16, minReps: 5, maxReps: 9, budgetMs: 500 },
    gpuLarge: { targetBatchMs: 25, maxK: 16, minReps: 3, maxReps: 5, budgetMs: 500, calibrationRuns: 1 },
    host: { targetBatchMs: 25, maxK: 8, minReps: 2, maxReps: 5, budgetMs: 1200, slowCallMs: 2000, slowReps: 1 },
  },
  full: {
    gpu: { targetBatchMs: 50, maxK: 32, minReps: 5, maxReps: 15, budgetMs: 2500 },
    gpuLarge: { targetBatchMs: 50, maxK: 32, minReps: 3, maxReps: 5, budgetMs: 2500, calibrationRuns: 1 },
    host: { targetBatchMs: 50, maxK: 16, minReps: 3, maxReps: 11, budgetMs: 6000 },
  },
};

/** Tensors above this get the gpuLarge plan. */
const LARGE_BYTES = 64 * MB;

function log(text: string): void {
  process.stdout.write(`${text}\n`);
}

function writeAtomic(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

async function main(args: BenchArgs): Promise<number> {
  const started = performance.now();
  const mode = args.quick ? 'quick' : 'full';
  const plan = plans[mode];
  const specs: CaseSpec[] = [];
  for (const op of args.ops) for (const layout of args.layouts) for (const bytes of args.sizes) specs.push({ op, layout, shape: shapeFor(layout, bytes), seed: specs.length + 1 });
  const bytesOf = (spec: CaseSpec) => elementsOf(spec.shape) * 4;
  // Host copies of the inputs (and the CPU reference) only where a host implementation runs.
  const hostAt = (bytes: number) => (['cpu', 'tfjs-webgpu', 'tfjs-cpu'] as Impl[]).some((impl) => bytes <= capOf(args.caps, impl));

  const session = await openBenchPage(args.browser, (text) => log(text));
  const cases: CaseRow[] = [];
  const skipped: SkippedRow[] = [];
  let env;
  let tuningNotes: string[] = [];
  let trainingStep: Awaited<ReturnType<typeof call<'trainingStep'>>> | undefined;
  try {
    env = await call(session.page, 'init', args.deviceLimits);
    log(`${session.browserName} (${session.executablePath}); adapter ${env.adapter.vendor} / ${env.adapter.architecture}${env.adapter.isFallbackAdapter ? ' (software fallback)' : ''}; timer ${env.timer}; TF.js ${env.tfjsVersion}`);
    log(`device limits '${env.limits.requested}': maxStorageBufferBindingSize ${formatSize(env.limits.maxStorageBufferBindingSize)}, maxBufferSize ${formatSize(env.limits.maxBufferSize)}`);
    tuningNotes = await prepareTuning(session.page, args, specs);
    log(`${specs.length} cases (${args.ops.join(', ')} × ${args.layouts.join(', ')} × ${args.sizes.map(formatSize).join(', ')}), ${mode} timing; ` +
      `caps: cpu ≤ ${formatSize(args.caps.cpu)}, TF.js ≤ ${formatSize(args.caps['tfjs-webgpu'])}`);
    for (const [index, spec] of specs.entries()) {
      const caseStart = performance.now();
      const bytes = elementsOf(spec.shape) * 4;
      const measured: MeasuredRow[] = [];
      const missing: MissingRow[] = [];
      const add = (result: { rows: MeasuredRow[]; missing: MissingRow[] }) => {
        measured.push(...result.rows);
        missing.push(...result.missing);
      };
      const capped = (impl: Impl) => {
        if (bytes <= capOf(args.caps, impl)) return false;
        missing.push({ impl, reason: `capped: ${impl} runs up to ${formatSize(capOf(args.caps, impl))} per tensor in this run` });
        return true;
      };
      await call(session.page, 'prepare', spec, { host: hostAt(bytes) });
      add(await call(session.page, 'gpu', bytes > LARGE_BYTES ? plan.gpuLarge : plan.gpu));
      if (!capped('cpu')) add(await call(session.page, 'cpu', plan.host));
      if (!capped('tfjs-webgpu')) add(await call(session.page, 'tfjs', 'webgpu', plan.host));
      if (!capped('tfjs-cpu')) add(await call(session.page, 'tfjs', 'cpu', plan.host));
      await call(session.page, 'release');
      const rows = caseRows(spec.op, spec.layout, spec.shape, measured);
      const skips = missing.map((m) => ({ op: spec.op, layout: spec.layout, shape: spec.shape, impl: m.impl, reason: m.reason }));
      cases.push(...rows);
      skipped.push(...skips);
      log(progressLine(index + 1, specs.length, rows, skips, (performance.now() - caseStart) / 1000));
    }
    if (args.ops.includes('forward-train') && args.ops.includes('backward')) {
      const steps = args.quick ? 20 : 60;
      const start = performance.now();
      trainingStep = await call(session.page, 'trainingStep', steps, args.quick ? 5 : 10);
      log(`training step of the demo model (${trainingStep.backend}, batch ${trainingStep.batchSize}, ${steps} steps each): ` +
        `stock ${trainingStep.stock.msMedian.toFixed(1)} ms, ours ${trainingStep.ours.msMedian.toFixed(1)} ms, ` +
        `${trainingStep.speedup.toFixed(2)}× faster  (${((performance.now() - start) / 1000).toFixed(1)} s)`);
    }
  } finally {
    await session.close();
  }

  const durationSeconds = (performance.now() - started) / 1000;
  const report: Report = {
    schema: 1,
    browser: session.browserName,
    adapter: env.adapter,
    generated: new Date().toISOString(),
    command: `npm run bench${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`,
    quick: args.quick,
    durationSeconds: Math.round(durationSeconds * 10) / 10,
    timer: env.timer,
    deviceLimits: env.limits,
    machine: { platform: `${process.platform}-${process.arch}`, cpus: cpus().length, node: process.version },
    tfjs: env.tfjsVersion,
    notes: [
      'floorBytes per element: inference 8, forward-train 12, backward 20 (DESIGN §3); floorMs = floorBytes / copy bandwidth, the copy (8 bytes per element) measured in the same case, same device, repetitions interleaved with webgpu.',
      'ratioToFloor = ms / floorMs; gbps = floorBytes / ms (the copy: 8·elements / ms).',
      'Numbers on SwiftShader are CPU numbers: compare ratios within one run, not absolute times.',
      'maxAbsErr: largest |value − reference| of y (forward) or dx (backward); errors holds every checked output; reference names what it was measured against.',
      'skipped lists rows not measured: capped (size cap of this run) or missing (not implemented or failed, with the reason).',
      `deviceLimits: the bench device's storage limits ('${env.limits.requested}': ${env.limits.requested === 'adapter' ? "the adapter's maxStorageBufferBindingSize and maxBufferSize" : "the adapter's maxBufferSize, WebGPU's default maxStorageBufferBindingSize"}).`,
      ...(specs.some((spec) => !hostAt(bytesOf(spec)))
        ? ['Cases above every host cap have no host arrays: x and dy are generated into GPU buffers, and webgpu rows are checked against float64 values computed from float64 statistics of x (and dy) regenerated from the same deterministic sequence, every output element compared (reference says which check a row had).']
        : []),
      ...(specs.some((spec) => bytesOf(spec) > LARGE_BYTES) ? [`GPU rows of tensors above ${formatSize(LARGE_BYTES)}: one calibration submit, 3–5 repetitions.`] : []),
      ...tuningNotes,
      ...(args.quick
        ? ['--quick: GPU rows 5–9 repetitions; host rows 2–5, and calls slower than 2 s (TF.js at 4 MB) once after their warm-up (see reps).']
        : []),
    ],
    cases,
    skipped,
    // The demo model's whole training step (model.trainOnBatch: forward, backward, Adam), median ms.
    ...(trainingStep ? { trainingStep } : {}),
  };
  const summary = linearity(cases);
  if (summary) report.linearity = summary;

  const problems = checkReport(report);
  const { json: out, chart: chartPath, table: tablePath } = outputPaths(resolve(repoRoot, args.out));
  writeAtomic(out, `${JSON.stringify(report, null, 2)}\n`);
  writeAtomic(chartPath, renderChart(report));
  writeAtomic(tablePath, readmeTable(report, basename(out)));

  log('');
  log(closingTable(report));
  log('');
  log('Tensors ≥ 4 MB: ratio to the floor (1.0 = a copy\'s time for the op\'s bytes) and speedup vs TF.js WebGPU');
  log(summaryText(report));
  log('');
  const missing = report.skipped.filter((s) => !s.reason.startsWith('capped'));
  if (missing.length) log(`missing rows: ${[...new Set(missing.map((s) => `${s.impl} ${s.op} (${s.reason})`))].join('; ')}`);
  const capped = report.skipped.filter((s) => s.reason.startsWith('capped'));
  if (capped.length) log(`capped rows: ${capped.length} (${[...new Set(capped.map((s) => s.reason.slice('capped: '.length)))].join('; ')})`);
  if (summary) {
    log('');
    log(`Linearity: ${summary.what}`);
    log(linearityText(summary));
  }
  log(`wrote ${out}, ${chartPath}, ${tablePath}`);
  log(`${specs.length} cases in ${durationSeconds.toFixed(1)} s`);
  let status = 0;
  const wrongOthers = report.cases.filter((row) => row.impl !== 'webgpu' && isWrong(row));
  if (wrongOthers.length) log(`rows with wrong results (maxAbsErr > ${ERROR_LIMIT}): ${wrongOthers.map((r) => `${r.impl} ${r.op} ${r.layout} [${r.shape}] ${r.errorNote ?? r.maxAbsErr}`).join('; ')}`);
  const wrong = report.cases.filter((row) => row.impl === 'webgpu' && isWrong(row));
  if (wrong.length) {
    log(`WRONG RESULTS: ${wrong.length} webgpu rows have maxAbsErr > ${ERROR_LIMIT}: ${wrong.map((r) => `${r.op} ${r.layout} [${r.shape}] ${r.maxAbsErr}`).join('; ')}`);
    status = 1;
  }
  if (problems.length) {
    log(`the report breaks the contract (DESIGN §3):\n  ${problems.join('\n  ')}`);
    status = 1;
  }
  return status;
}

const familyOf: Record<Op, KernelFamily> = { 'forward-train': 'forwardTrain', backward: 'backward', inference: 'inference' };

/**
 * `--tuning gpu-defaults` and `--autotune`: the engine's starting tuning, then each op's family
 * autotuned on every shape of the run (grouped by size class). Returns notes for the report.
 */
async function prepareTuning(page: Parameters<typeof call>[0], args: BenchArgs, specs: CaseSpec[]): Promise<string[]> {
  const notes: string[] = [];
  if (args.tuning !== 'adapter') {
    const tuning = await call(page, 'useTuning', args.tuning);
    log(`tuning: ${args.tuning} ${JSON.stringify(tuning)}`);
    notes.push(`--tuning ${args.tuning}: the engine starts from ${JSON.stringify(tuning)}.`);
  }
  if (!args.autotune) return notes;
  for (const op of args.ops) {
    const shapes = specs.filter((spec) => spec.op === op).map((spec) => ({ shape: spec.shape, layout: spec.layout }));
    const start = performance.now();
    const report = await call(page, 'autotune', familyOf[op], shapes);
    const seconds = (performance.now() - start) / 1000;
    if (!report.timestamps) log(`autotune ${op}: no timestamp-query on this device, the heuristics stay`);
    for (const c of report.classes) {
      const times = c.candidates.map((k) => (k.ms === undefined ? '–' : k.ms.toFixed(2))).join(' / ');
      const phases = c.phases ? ` (${Object.entries(c.phases).map(([k, v]) => `${k.replace('Ms', '')} ${(v / 1000).toFixed(2)}`).join(', ')})` : '';
      log(`  ${c.sizeClass.padEnd(24)} ${c.source} in ${(c.tuningMs / 1000).toFixed(2)} s${phases}; ms per candidate ${times}; chose ${JSON.stringify(c.chosen)}`);
    }
    log(`autotune ${op}: ${report.classes.length} size classes in ${seconds.toFixed(2)} s`);
    notes.push(`--autotune: ${op} tuned on the run's shapes (${report.classes.length} size classes) in ${seconds.toFixed(2)} s before timing; chosen: ${report.classes.map((c) => `${c.sizeClass} ${JSON.stringify(c.chosen)}`).join('; ')}.`);
  }
  return notes;
}

let args: BenchArgs;
try {
  args = parseArgs(process.argv.slice(2));
} catch (error) {
  console.error(String((error as Error).message ?? error));
  process.exit(2);
}
if (args.help) {
  log(usage);
} else {
  process.exitCode = await main(args);
}
