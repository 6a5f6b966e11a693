/**
 * The run loop every bench runtime shares: builds the cases from the command line, measures them
 * one at a time through a BenchDriver (the browser page, or Dawn in Node), assembles the report
 * (the stable contract of bench/lib/report.ts), checks it, writes it with its chart and table, and
 * prints the progress, the closing table and the summaries.
 */
import { appendFileSync, rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { basename } from 'node:path';
import type { BenchArgs } from './args';
import { capOf, copyBytesPerElement, elementsOf, floorBytesPerElement, formatSize, MB, normHiddenSizes, normQuickHiddenSizes, normShapeProblem, normShapesFor, normSmallShapes, shapeFor, smallShapes } from './cases';
import { renderChart } from './chart';
import { linearity, linearityText } from './linearity';
import { outputPaths, writeAtomic } from './outputs';
import { caseRows, checkReport, type CaseRow, type Report, type SkippedRow } from './report';
import { closingTable, copyBandwidth, copyBandwidthText, errorLimit, isWrong, handTunedText, progressLine, readmeTable, summaryText } from './table';
import { allOps, normOf, type BenchDtype, type NormOp } from './types';
import type { BenchDriver, CaseSpec, HostMicros, Impl, MeasuredRow, MissingRow, Op, TimingPlan } from './types';
import type { KernelFamily } from '../../src/index';

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

/**
 * On a hardware adapter every GPU row first keeps the GPU busy this long (timing.ts: clocks drop
 * while the host rows run) and may batch up to HARDWARE_MAX_K iterations: a 16 MB copy takes
 * microseconds there, and longer batches keep the card at its clocks between timestamp reads.
 */
const HARDWARE_WARMUP_MS = 300;
const HARDWARE_MAX_K = 256;

function gpuPlanFor(plan: TimingPlan, softwareAdapter: boolean): TimingPlan {
  return softwareAdapter ? plan : { ...plan, warmupMs: HARDWARE_WARMUP_MS, maxK: Math.max(plan.maxK, HARDWARE_MAX_K) };
}

function hostMicrosText(host: HostMicros): string {
  return host.rows.map((r) => `${r.layout} [${r.shape}]: forward-train ${r.forwardTrain.toFixed(1)}, backward ${r.backward.toFixed(1)}, inference ${r.inference.toFixed(1)}`).join('; ');
}

/** "inference 8, forward-train 12, …": every op's floor in bytes per element. */
function allOpsText(dtype: BenchDtype): string {
  return allOps.map((op) => `${op} ${floorBytesPerElement(op, dtype)}`).join(', ');
}

function log(text: string): void {
  process.stdout.write(`${text}\n`);
}

export interface RunOptions {
  /** The command line as a user would type it again, for the report. */
  command: string;
  /** Absolute path of the results JSON. */
  out: string;
}

/**
 * Runs the bench through `driver` (which it closes); the exit status: 1 for wrong results or a
 * broken contract, 2 when the adapter cannot run the requested dtype (nothing measured).
 */
export async function runBench(args: BenchArgs, driver: BenchDriver, options: RunOptions): Promise<number> {
  const started = performance.now();
  const mode = args.quick ? 'quick' : 'full';
  const plan = plans[mode];
  const specs: CaseSpec[] = [];
  const shapes = args.shapes.length ? args.shapes : args.layouts.flatMap((layout) => args.sizes.map((bytes) => ({ layout, shape: shapeFor(layout, bytes) })));
  const dtype = args.dtype;
  const bnOps = args.ops.filter((op) => !normOf(op));
  for (const op of bnOps) for (const { layout, shape } of shapes) specs.push({ op, layout, shape, seed: specs.length + 1, dtype });
  // The small shapes that take the one-dispatch kernels (the demo model's layers, small CNN activations).
  if (args.smallShapes && !args.shapes.length) for (const op of bnOps) for (const { layout, shape } of smallShapes) if (args.layouts.includes(layout)) specs.push({ op, layout, shape, seed: specs.length + 1, dtype });
  specs.push(...normSpecs(args, specs.length + 1));
  const bytesOf = (spec: CaseSpec) => elementsOf(spec.shape) * 4;
  // TF.js's adapter runs float32 tensors only: a float16 run lists its rows as skipped, with why.
  const tfjsFloat16 = args.tfjs && dtype === 'float16' && driver.tfjs !== undefined;
  const tfjs = args.tfjs && !tfjsFloat16 ? driver.tfjs : undefined;
  const noTfjs = tfjsFloat16 ? 'float16: the TF.js adapter runs float32 tensors only' : args.tfjs ? (driver.noTfjs ?? 'TF.js is not available here') : '--no-tfjs';
  const hostImpls: Impl[] = tfjs ? ['cpu', 'tfjs-webgpu', 'tfjs-cpu'] : ['cpu'];
  // Host copies of the inputs (and the CPU reference) only where a host implementation runs.
  const hostAt = (bytes: number) => hostImpls.some((impl) => bytes <= capOf(args.caps, impl));

  const cases: CaseRow[] = [];
  const skipped: SkippedRow[] = [];
  const { partial } = outputPaths(options.out);
  let env;
  let trainingStep: Awaited<ReturnType<NonNullable<BenchDriver['trainingStep']>>> | undefined;
  let hostMicros: HostMicros | undefined;
  let tuningNotes: string[] = [];
  try {
    env = await driver.init(args.deviceLimits);
    const a = env.adapter;
    log(`${driver.name} (${driver.origin})`);
    log(`adapter: ${a.description || '?'} — vendor ${a.vendor || '?'}, architecture ${a.architecture || '?'}, device ${a.device || '?'}${a.isFallbackAdapter ? ' (software fallback)' : ''}`);
    log(`adapter features: ${a.features.join(', ') || 'none'}${a.subgroupMinSize ? `; subgroup size ${a.subgroupMinSize}–${a.subgroupMaxSize}` : ''}`);
    log(`adapter limits: ${Object.entries(a.limits).map(([name, value]) => `${name} ${value}`).join(', ')}`);
    log(`device features: ${env.features.join(', ') || 'none'}; timer ${env.timer}; TF.js ${tfjs ? env.tfjsVersion : `not run (${noTfjs})`}`);
    if (dtype === 'float16' && !env.features.includes('shader-f16')) {
      // Our float16 kernels cannot compile there; timing the CPU path as webgpu would mislead.
      // Nothing is written; the driver is closed by the finally below.
      log(`--dtype float16 needs the adapter feature 'shader-f16', which this adapter (${a.description || a.vendor || '?'}) lacks: no float16 kernels to time; nothing measured`);
      return 2;
    }
    log(`device limits '${env.limits.requested}': maxStorageBufferBindingSize ${formatSize(env.limits.maxStorageBufferBindingSize)}, maxBufferSize ${formatSize(env.limits.maxBufferSize)}`);
    const what = args.shapes.length
      ? args.shapes.map(({ layout, shape }) => `${layout} [${shape}]`).join(', ')
      : `${args.layouts.join(', ')} × ${args.sizes.map(formatSize).join(', ')}`;
    writeAtomic(partial, `${JSON.stringify({ command: options.command, adapter: a, started: new Date().toISOString(), cases: specs.length })}\n`);
    tuningNotes = await prepareTuning(driver, args, specs);
    log(`${specs.length} cases (${args.ops.join(', ')} × ${what}), ${mode} timing; ` +
      `caps: cpu ≤ ${formatSize(args.caps.cpu)}${tfjs ? `, TF.js ≤ ${formatSize(args.caps['tfjs-webgpu'])}` : ''}; tensors ${dtype}`);
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
      if (dtype === 'float16' && !hostAt(bytes)) {
        // The streamed float64 reference (above the host caps) reads float32 inputs; float16 cases
        // are checked against the CPU path on the decoded inputs, so they stop at the host caps.
        const reason = `capped: float16 cases run up to the host cap (${formatSize(Math.max(...hostImpls.map((impl) => capOf(args.caps, impl))))}), where the CPU reference exists`;
        const skips = (['copy', 'webgpu', 'cpu'] as Impl[]).map((impl) => ({ op: spec.op, layout: spec.layout, shape: spec.shape, impl, reason }));
        skipped.push(...skips);
        log(progressLine(index + 1, specs.length, [], skips, 0, dtype));
        continue;
      }
      if (dtype === 'float16' && normOf(spec.op)) {
        const reason = 'float16: the norm family runs float32 tensors only';
        const skips = (['copy', 'webgpu', ...hostImpls] as Impl[]).map((impl) => ({ op: spec.op, layout: spec.layout, shape: spec.shape, impl, reason }));
        skipped.push(...skips);
        log(progressLine(index + 1, specs.length, [], skips, 0, dtype));
        continue;
      }
      // Norm cases always have host arrays: their reference is the CPU path at every size.
      await driver.prepare(spec, { host: normOf(spec.op) !== undefined || hostAt(bytes) });
      add(await driver.gpu(gpuPlanFor(bytes > LARGE_BYTES ? plan.gpuLarge : plan.gpu, a.isFallbackAdapter)));
      if (!capped('cpu')) add(await driver.cpu(plan.host));
      if (tfjs && !capped('tfjs-webgpu')) add(await tfjs('webgpu', plan.host));
      if (tfjs && !capped('tfjs-cpu')) add(await tfjs('cpu', plan.host));
      if (tfjsFloat16) for (const impl of ['tfjs-webgpu', 'tfjs-cpu'] as Impl[]) missing.push({ impl, reason: noTfjs });
      await driver.release();
      const rows = caseRows(spec.op, spec.layout, spec.shape, measured, dtype);
      const skips = missing.map((m) => ({ op: spec.op, layout: spec.layout, shape: spec.shape, impl: m.impl, reason: m.reason }));
      cases.push(...rows);
      skipped.push(...skips);
      appendFileSync(partial, `${JSON.stringify({ op: spec.op, layout: spec.layout, shape: spec.shape, rows, skipped: skips })}\n`);
      log(progressLine(index + 1, specs.length, rows, skips, (performance.now() - caseStart) / 1000, dtype));
    }
    if (tfjs && driver.trainingStep && args.ops.includes('forward-train') && args.ops.includes('backward')) {
      const steps = args.quick ? 20 : 60;
      const start = performance.now();
      trainingStep = await driver.trainingStep(steps, args.quick ? 5 : 10);
      log(`training step of the demo model (${trainingStep.backend}, batch ${trainingStep.batchSize}, ${steps} steps each): ` +
        `stock ${trainingStep.stock.msMedian.toFixed(1)} ms, ours ${trainingStep.ours.msMedian.toFixed(1)} ms, ` +
        `${trainingStep.speedup.toFixed(2)}× faster  (${((performance.now() - start) / 1000).toFixed(1)} s)`);
    }
    if (driver.hostMicros) {
      hostMicros = await driver.hostMicros();
      log(`host µs per call (${hostMicros.timed}): ${hostMicrosText(hostMicros)}`);
    }
  } finally {
    await driver.close();
  }

  const durationSeconds = (performance.now() - started) / 1000;
  const report: Report = {
    schema: 1,
    browser: driver.name,
    adapter: env.adapter,
    generated: new Date().toISOString(),
    command: options.command,
    quick: args.quick,
    dtype,
    durationSeconds: Math.round(durationSeconds * 10) / 10,
    timer: env.timer,
    deviceLimits: env.limits,
    features: env.features,
    machine: { platform: `${process.platform}-${process.arch}`, cpus: cpus().length, node: process.version },
    tfjs: tfjs && env.tfjsVersion ? env.tfjsVersion : `not run: ${noTfjs}`,
    notes: [
      `dtype ${dtype}: floorBytes per element: ${allOpsText(dtype)}; floorMs = floorBytes / copy bandwidth, the copy (${copyBytesPerElement(dtype)} bytes per element: the ${dtype} tensor read and written) measured in the same case, same device, repetitions interleaved with webgpu.`,
      `ratioToFloor = ms / floorMs; gbps = floorBytes / ms (the copy: ${copyBytesPerElement(dtype)}·elements / ms).`,
      ...(dtype === 'float16'
        ? [`float16: x, dy and z are the case's values rounded to float16, and webgpu and cpu run with dtype 'float16' (statistics float32); y, dx and dz are read back as float16 and decoded; the reference is the library's CPU path (float64 accumulation) on the decoded inputs. Error limit ${errorLimit(dtype)} (one float16 ulp of |y| < 8) instead of ${errorLimit('float32')}.`]
        : []),
      ...(env.adapter.isFallbackAdapter ? ['This adapter is a software fallback (a CPU): its numbers are CPU numbers; compare ratios within one run, not absolute times.'] : []),
      'maxAbsErr: largest |value − reference| of y (forward) or dx (backward); errors holds every checked output; reference names what it was measured against.',
      'skipped lists rows not measured: capped (size cap of this run) or missing (not implemented or failed, with the reason).',
      `deviceLimits: the bench device's storage limits ('${env.limits.requested}': ${env.limits.requested === 'adapter' ? "the adapter's maxStorageBufferBindingSize and maxBufferSize" : "the adapter's maxBufferSize, WebGPU's default maxStorageBufferBindingSize"}).`,
      ...(tfjs ? [] : [`No tfjs-webgpu or tfjs-cpu rows: ${noTfjs}.`]),
      ...tuningNotes,
      ...(driver.notes ?? []),
      ...(specs.some((spec) => !normOf(spec.op) && !hostAt(bytesOf(spec)))
        ? ['Cases above every host cap have no host arrays: x and dy are generated into GPU buffers, and webgpu rows are checked against float64 values computed from float64 statistics of x (and dy) regenerated from the same deterministic sequence, every output element compared (reference says which check a row had).']
        : []),
      ...(specs.some((spec) => bytesOf(spec) > LARGE_BYTES) ? [`GPU rows of tensors above ${formatSize(LARGE_BYTES)}: one calibration submit, 3–5 repetitions.`] : []),
      ...(args.quick
        ? ['--quick: GPU rows 5–9 repetitions; host rows 2–5, and calls slower than 2 s once after their warm-up (see reps).']
        : []),
    ],
    cases,
    skipped,
    copyBandwidth: copyBandwidth(cases, args.nominalGbps),
    // The demo model's whole training step (model.trainOnBatch: forward, backward, Adam), median ms.
    ...(trainingStep ? { trainingStep } : {}),
    ...(hostMicros ? { hostMicros } : {}),
  };
  const summary = linearity(cases);
  if (summary) report.linearity = summary;
  const handTuned = handTunedText(report);
  if (handTuned) report.notes.push(`--tuning ${args.tuning}: ${handTuned.replace(/\n\s*/g, ' ')}`);

  const problems = checkReport(report);
  const { json: out, chart: chartPath, table: tablePath } = outputPaths(options.out);
  writeAtomic(out, `${JSON.stringify(report, null, 2)}\n`);
  writeAtomic(chartPath, renderChart(report));
  writeAtomic(tablePath, readmeTable(report, basename(out)));
  rmSync(partial, { force: true });

  log('');
  log(closingTable(report));
  log('');
  log('Tensors ≥ 4 MB: ratio to the floor (1.0 = a copy\'s time for the op\'s bytes)' + (tfjs ? ' and speedup vs TF.js WebGPU' : ''));
  log(summaryText(report));
  if (handTuned) log(handTuned);
  log('');
  log(copyBandwidthText(report.copyBandwidth!));
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
  const wrongOthers = report.cases.filter((row) => row.impl !== 'webgpu' && isWrong(row, dtype));
  if (wrongOthers.length) log(`rows with wrong results (maxAbsErr > ${errorLimit(dtype)}): ${wrongOthers.map((r) => `${r.impl} ${r.op} ${r.layout} [${r.shape}] ${r.errorNote ?? r.maxAbsErr}`).join('; ')}`);
  const wrong = report.cases.filter((row) => row.impl === 'webgpu' && isWrong(row, dtype));
  if (wrong.length) {
    log(`WRONG RESULTS: ${wrong.length} webgpu rows have maxAbsErr > ${errorLimit(dtype)}: ${wrong.map((r) => `${r.op} ${r.layout} [${r.shape}] ${r.maxAbsErr}`).join('; ')}`);
    status = 1;
  }
  if (problems.length) {
    log(`the report breaks the contract:\n  ${problems.join('\n  ')}`);
    status = 1;
  }
  return status;
}

/** The autotuned kernel family of each batch norm op (the norm family has no autotuning). */
const familyOf: Partial<Record<Op, KernelFamily>> = { 'forward-train': 'forwardTrain', backward: 'backward', inference: 'inference', 'forward-train-residual': 'forwardTrain', 'backward-residual': 'backward' };

/**
 * The norm ops' cases: with --shapes, those of its shapes each op can run (an op that can run none
 * is an error); else their own shapes at args.normSizes (--quick: one hidden size), and the small
 * ones (cases.ts).
 */
export function normSpecs(args: Pick<BenchArgs, 'ops' | 'shapes' | 'normSizes' | 'smallShapes' | 'dtype' | 'quick'>, firstSeed: number): CaseSpec[] {
  const specs: CaseSpec[] = [];
  const push = (op: Op, layout: CaseSpec['layout'], shape: number[]) => specs.push({ op, layout, shape, seed: firstSeed + specs.length, dtype: args.dtype });
  for (const op of args.ops.filter((o): o is NormOp => normOf(o) !== undefined)) {
    if (args.shapes.length) {
      const fitting = args.shapes.filter(({ layout, shape }) => !normShapeProblem(op, layout, shape));
      if (!fitting.length) throw new Error(`--ops ${op}: none of --shapes fits (${args.shapes.map(({ layout, shape }) => normShapeProblem(op, layout, shape)).join('; ')})`);
      for (const { layout, shape } of fitting) push(op, layout, shape);
      continue;
    }
    for (const bytes of args.normSizes) for (const { layout, shape } of normShapesFor(op, bytes, args.quick ? normQuickHiddenSizes : normHiddenSizes)) push(op, layout, shape);
    if (args.smallShapes) {
      const small = normSmallShapes[normOf(op)!.kind];
      push(op, small.layout, small.shape);
    }
  }
  return specs;
}

/**
 * `--tuning gpu-defaults` and `--autotune`: the engine's starting tuning, then each op's family
 * autotuned on every shape of the run (grouped by size class). Returns notes for the report.
 */
async function prepareTuning(driver: BenchDriver, args: BenchArgs, specs: CaseSpec[]): Promise<string[]> {
  const notes: string[] = [];
  if (args.tuning !== 'adapter') {
    if (!driver.useTuning) throw new Error(`--tuning ${args.tuning} is not available in ${driver.name}`);
    const tuning = await driver.useTuning(args.tuning);
    log(`tuning: ${args.tuning} ${JSON.stringify(tuning)}`);
    notes.push(`--tuning ${args.tuning}: the engine starts from ${JSON.stringify(tuning)}.`);
  }
  if (!args.autotune) return notes;
  if (!driver.autotune) throw new Error(`--autotune is not available in ${driver.name}`);
  for (const op of args.ops) {
    const family = familyOf[op];
    if (!family) continue;
    const shapes = specs.filter((spec) => spec.op === op).map((spec) => ({ shape: spec.shape, layout: spec.layout }));
    const start = performance.now();
    const report = await driver.autotune(family, shapes);
    const seconds = (performance.now() - start) / 1000;
    if (!report.timestamps) log(`autotune ${op}: no timestamp-query on this device, the heuristics stay`);
    for (const c of report.classes) {
      // Not timed: '–' dropped after the screening or its first run, 'skip' far behind in a smaller class.
      const times = c.candidates.map((k) => (k.ms !== undefined ? k.ms.toFixed(2) : k.dropped === 'smallerClass' ? 'skip' : '–')).join(' / ');
      const phases = c.phases ? ` (${Object.entries(c.phases).map(([k, v]) => `${k.replace('Ms', '')} ${(v / 1000).toFixed(2)}`).join(', ')})` : '';
      log(`  ${c.sizeClass.padEnd(24)} ${c.source} in ${(c.tuningMs / 1000).toFixed(2)} s${phases}; ms per candidate ${times}; chose ${JSON.stringify(c.chosen)}`);
    }
    log(`autotune ${op}: ${report.classes.length} size classes in ${seconds.toFixed(2)} s`);
    notes.push(`--autotune: ${op} tuned on the run's shapes (${report.classes.length} size classes) in ${seconds.toFixed(2)} s before timing; chosen: ${report.classes.map((c) => `${c.sizeClass} ${JSON.stringify(c.chosen)}`).join('; ')}.`);
  }
  return notes;
}
