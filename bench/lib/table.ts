/** Text outputs of a run: the progress line of a case, the closing table, the ≥ 4 MB summary. */
import { elementsOf, formatSize, MB } from './cases';
import type { CaseRow, Report, SkippedRow } from './report';
import { speedupCeiling } from './ceiling';
import { caseKey, groupCases, implOrder } from './groups';
import { allOps, type BenchDtype, type Impl } from './types';


/** Whether the run measured or tried TF.js (the browser bench does; the Node bench does not). */
export function hasTfjs(report: Report): boolean {
  const tfjs = (impl: Impl) => impl === 'tfjs-webgpu' || impl === 'tfjs-cpu';
  return report.cases.some((row) => tfjs(row.impl)) || report.skipped.some((row) => tfjs(row.impl));
}

/** An error above this on a webgpu row means a wrong kernel (outputs are O(1); float32 gives ~1e-6). */
export const ERROR_LIMIT = 1e-3;

/**
 * The same limit for float16 outputs. The reference is computed from the very float16 inputs the
 * GPU reads, so what remains is the one rounding of each output to float16: half an ulp, plus the
 * float32 arithmetic's ~1e-6, which can move a value next to a rounding tie to the other neighbour,
 * at most one ulp in all. The bench's outputs stay below 8 in magnitude (x ~ 3 ± 2 normalized, γ
 * 1 ± 0.5, β and dy within ±1), where a float16 ulp is at most 2⁻⁸ (binade [4, 8)): one such ulp is
 * the limit. A wrong kernel (a missed mean, a wrong channel) is off by O(1).
 */
export const ERROR_LIMIT_FLOAT16 = 2 ** -8;

/** The error limit of a run's main outputs by its tensors' dtype. */
export function errorLimit(dtype: BenchDtype = 'float32'): number {
  return dtype === 'float16' ? ERROR_LIMIT_FLOAT16 : ERROR_LIMIT;
}

export function formatMs(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  if (ms >= 1) return `${ms.toFixed(2)} ms`;
  return `${ms.toFixed(3)} ms`;
}

export function formatRatio(ratio: number): string {
  return ratio >= 100 ? `${ratio.toFixed(0)}×` : ratio >= 10 ? `${ratio.toFixed(1)}×` : `${ratio.toFixed(2)}×`;
}

export function formatError(error: number | undefined): string {
  if (error === undefined) return '';
  return error === 0 ? '0' : error.toExponential(1);
}

/** A row whose main output is off by more than the dtype's error limit (NaN and Inf included). */
export function isWrong(row: CaseRow, dtype: BenchDtype = 'float32'): boolean {
  return row.maxAbsErr !== undefined && row.maxAbsErr > errorLimit(dtype);
}

/** Width of the op column of the progress lines: the longest op name. */
const opWidth = Math.max(...allOps.map((op) => op.length));

/** `webgpu 0.93 ms 1.22× err 9.5e-7 WRONG` etc., for one row. */
function cell(row: CaseRow, dtype: BenchDtype): string {
  let text = `${row.impl} ${formatMs(row.ms)}`;
  if (row.impl === 'copy') return `${text} (${row.gbps.toFixed(2)} GB/s)`;
  text += ` ${formatRatio(row.ratioToFloor)}`;
  if (row.dispatches !== undefined) text += ` (${row.dispatches} dispatch${row.dispatches === 1 ? '' : 'es'})`;
  // The same call with tuning.oneDispatch false: three kernels for training, the fold before the
  // apply for inference.
  const threeKernels = row.extra?.threeKernelsRatioToFloor;
  const multiPass = row.op === 'inference' ? 'fold, then apply' : 'three kernels';
  if (threeKernels !== undefined) text += ` [${multiPass} ${formatRatio(threeKernels)}]`;
  const handTuned = row.extra?.handTunedRatioToFloor;
  if (handTuned !== undefined) text += ` [hand-tuned ${formatRatio(handTuned)}]`;
  if (row.impl === 'webgpu' && row.maxAbsErr !== undefined) text += ` err ${formatError(row.maxAbsErr)}`;
  if (isWrong(row, dtype)) text += ` WRONG (err ${formatError(row.maxAbsErr)})`;
  return text;
}

export function progressLine(index: number, total: number, rows: CaseRow[], skipped: SkippedRow[], seconds: number, dtype: BenchDtype = 'float32'): string {
  const first = rows[0] ?? skipped[0];
  const bytes = elementsOf(first.shape) * 4;
  const head = `[${String(index).padStart(String(total).length)}/${total}] ${first.op.padEnd(opWidth)} ${first.layout.padEnd(5)} ${formatSize(bytes).padStart(6)} ${('[' + first.shape.join(',') + ']').padEnd(17)}`;
  const cells = rows.map((row) => cell(row, dtype));
  for (const skip of skipped) cells.push(`${skip.impl} ${skip.reason.startsWith('capped') ? 'capped' : 'missing'}`);
  return `${head} ${cells.join(' │ ')}  (${seconds.toFixed(1)} s)`;
}

/**
 * The closing table: one line per case, one column per implementation showing ms and ratio to
 * the floor, plus the error of the webgpu row.
 */
export function closingTable(report: Report): string {
  // A run without TF.js (the Node bench) has no TF.js columns.
  const impls: Impl[] = hasTfjs(report) ? ['webgpu', 'cpu', 'tfjs-webgpu', 'tfjs-cpu'] : ['webgpu', 'cpu'];
  const header = ['op', 'layout', 'size', 'shape', 'copy GB/s', ...impls, 'webgpu err'];
  const left = new Set([0, 1, 3]);
  const lines: string[][] = [header];
  const skippedBy = new Map<string, SkippedRow[]>();
  for (const skip of report.skipped) {
    const key = caseKey(skip);
    if (!skippedBy.has(key)) skippedBy.set(key, []);
    skippedBy.get(key)!.push(skip);
  }
  for (const group of groupCases(report.cases)) {
    const [first] = group;
    const by = (impl: Impl) => group.find((row) => row.impl === impl);
    const skips = skippedBy.get(caseKey(first)) ?? [];
    const column = (impl: Impl) => {
      const row = by(impl);
      if (row) return `${formatMs(row.ms)} ${formatRatio(row.ratioToFloor)}${isWrong(row, report.dtype) ? ' WRONG' : ''}`;
      const skip = skips.find((s) => s.impl === impl);
      return skip ? (skip.reason.startsWith('capped') ? 'capped' : 'missing') : '';
    };
    const gpu = by('webgpu');
    lines.push([
      first.op,
      first.layout,
      formatSize(first.elements * 4),
      first.shape.join('×'),
      by('copy')!.gbps.toFixed(2),
      ...impls.map(column),
      gpu?.maxAbsErr !== undefined ? formatError(gpu.maxAbsErr) + (isWrong(gpu, report.dtype) ? ' WRONG' : '') : '',
    ]);
  }
  const widths = header.map((_, c) => Math.max(...lines.map((line) => line[c].length)));
  return lines
    .map((line, i) => {
      const text = line.map((value, c) => (left.has(c) ? value.padEnd(widths[c]) : value.padStart(widths[c]))).join('  ');
      return i === 0 ? `${text}\n${widths.map((w) => '─'.repeat(w)).join('  ')}` : text;
    })
    .join('\n');
}

/**
 * Rows of the ≥ 4 MB summary: every implementation but the copy, with the speedup vs TF.js WebGPU
 * and the case's ceiling (the largest speedup any kernel on the device could show, see ceiling.ts).
 */
export function summaryRows(report: Report, minBytes = 4 * MB): { row: CaseRow; speedup: number | undefined; ceiling: number | undefined }[] {
  const out: { row: CaseRow; speedup: number | undefined; ceiling: number | undefined }[] = [];
  for (const group of groupCases(report.cases)) {
    if (group[0].elements * 4 < minBytes) continue;
    const tfjs = group.find((row) => row.impl === 'tfjs-webgpu');
    const ceiling = speedupCeiling(group);
    for (const row of group) {
      if (row.impl === 'copy') continue;
      out.push({ row, speedup: tfjs ? tfjs.ms / row.ms : undefined, ceiling });
    }
  }
  return out;
}

function formatSpeedup(speedup: number | undefined): string {
  if (speedup === undefined) return '—';
  return speedup >= 10 ? `${speedup.toFixed(0)}×` : `${speedup.toFixed(2)}×`;
}

/** The summary as plain text, for the end of the console output. */
export function summaryText(report: Report): string {
  const rows = summaryRows(report);
  if (rows.length === 0) return 'no case of 4 MB or more in this run';
  const tfjs = hasTfjs(report);
  const lines = [['op', 'layout', 'shape', 'impl', 'ms', '×floor', ...(tfjs ? ['vs tfjs-webgpu', 'ceiling'] : [])]];
  for (const { row, speedup, ceiling } of rows) {
    lines.push([
      row.op,
      row.layout,
      row.shape.join('×'),
      row.impl + (isWrong(row, report.dtype) ? ' (WRONG)' : ''),
      formatMs(row.ms),
      formatRatio(row.ratioToFloor),
      ...(tfjs ? [formatSpeedup(speedup), formatSpeedup(ceiling)] : []),
    ]);
  }
  const widths = lines[0].map((_, c) => Math.max(...lines.map((line) => line[c].length)));
  const table = lines.map((line) => line.map((v, c) => (c >= 4 ? v.padStart(widths[c]) : v.padEnd(widths[c]))).join('  ')).join('\n');
  if (!tfjs) return table;
  return `${table}\nceiling = tfjs-webgpu ms ÷ copy ms: the largest speedup over TF.js any kernel on this device could show here (every op at least copies a tensor).`;
}

/**
 * bench/results/README-table.md: the ≥ 4 MB rows as a markdown table, with what each row times.
 * `jsonName` is the results file it is written beside (other than latest.json: NAME-table.md,
 * headed by the run's command).
 */
export function readmeTable(report: Report, jsonName = 'latest.json'): string {
  const rows = summaryRows(report);
  const copy = report.cases.filter((row) => row.impl === 'copy' && row.elements * 4 >= 4 * MB);
  const copyRange = copy.length ? `${Math.min(...copy.map((r) => r.gbps)).toFixed(2)}–${Math.max(...copy.map((r) => r.gbps)).toFixed(2)} GB/s` : 'n/a';
  const out: string[] = [];
  const command = jsonName === 'latest.json' || !report.command ? `npm run bench${report.quick ? ' -- --quick' : ''}` : report.command;
  out.push(`<!-- generated by \`${command}\` (bench/run.ts); do not edit by hand -->`);
  out.push('');
  out.push(
    `${report.browser}, adapter ${report.adapter.vendor || '?'} / ${report.adapter.architecture || '?'}${report.adapter.isFallbackAdapter ? ' (software fallback)' : ''}, ` +
      `${report.machine.cpus} CPU cores, ${report.generated.slice(0, 10)}${report.quick ? ', `--quick` run' : ''}. ` +
      `Tensors of 4 MB or more. The floor is a vec4 copy on the same device at the same size (${copyRange} here); ` +
      `×floor = ms / (op bytes ÷ copy bandwidth), 1.0 is the limit; speedup = TF.js WebGPU ms / this row's ms (— where TF.js was not run at that size); ` +
      `ceiling = TF.js WebGPU ms / copy ms, the largest speedup any kernel on that device could show in that case (every op at least copies a tensor).`,
  );
  out.push('');
  out.push('| op | layout | shape | impl | ms | ×floor | speedup vs tfjs-webgpu | ceiling |');
  out.push('|---|---|---|---|---:|---:|---:|---:|');
  for (const { row, speedup, ceiling } of rows) {
    const impl = row.impl === 'webgpu' ? '**webgpu**' : row.impl;
    const wrong = isWrong(row, report.dtype) ? ' (wrong results)' : '';
    out.push(`| ${row.op} | ${row.layout} | ${row.shape.join('×')} | ${impl}${wrong} | ${formatMs(row.ms).replace(' ', '\u00a0')} | ${formatRatio(row.ratioToFloor)} | ${formatSpeedup(speedup)} | ${formatSpeedup(ceiling)} |`);
  }
  out.push('');
  out.push(`What each row times (median over repetitions, per call${report.quick ? '; in a `--quick` run, host calls slower than 2 s are timed once after their warm-up' : ''}):`);
  out.push('');
  for (const line of timedDefinitions(report)) out.push(`- ${line}`);
  const capped = report.skipped.filter((s) => s.reason.startsWith('capped'));
  if (capped.length) {
    const reasons = [...new Set(capped.map((s) => s.reason.slice('capped: '.length)))].join('; ');
    out.push(`- Size caps of this run (rows above them are listed in \`skipped\` in ${jsonName}): ${reasons}.`);
  }
  const missing = report.skipped.filter((s) => !s.reason.startsWith('capped'));
  if (missing.length) {
    const reasons = [...new Set(missing.map((s) => `${s.impl} ${s.op}: ${s.reason}`))];
    out.push(`- Missing: ${reasons.join('; ')}.`);
  }
  out.push('');
  return out.join('\n');
}

/**
 * One line per implementation and op saying what its rows time, with the layouts it applies to
 * when the sentence differs between layouts (TF.js uses other formulas for some of them).
 */
export function timedDefinitions(report: Report): string[] {
  const allLayouts = [...new Set(report.cases.map((row) => row.layout))];
  const groups = new Map<string, { impl: Impl; op: string; timed: string; layouts: Set<string> }>();
  for (const row of [...report.cases].sort((a, b) => implOrder.indexOf(a.impl) - implOrder.indexOf(b.impl))) {
    const op = row.impl === 'copy' ? 'all ops' : row.op;
    const key = `${row.impl}|${op}|${row.timed}`;
    if (!groups.has(key)) groups.set(key, { impl: row.impl, op, timed: row.timed, layouts: new Set() });
    groups.get(key)!.layouts.add(row.layout);
  }
  return [...groups.values()].map(({ impl, op, timed, layouts }) => {
    const where = layouts.size === allLayouts.length ? '' : ` (${[...layouts].join(', ')})`;
    return `**${impl}**, ${op}${where}: ${timed}.`;
  });
}

/** The copy's bandwidth per tensor size (the floor's own figure; on a GPU, compare it with the card's nominal bandwidth). */
export interface CopyBandwidth {
  /** Per tensor size: copy GB/s (8 bytes per element moved / ms), median and best over the cases of that size. */
  sizes: { bytes: number; cases: number; gbpsMedian: number; gbpsMax: number }[];
  /** The largest per-size median. */
  peakGbps: number;
  /** `--nominal-gbps`: the adapter's nominal memory bandwidth as given on the command line, and peakGbps / it. */
  nominalGbps?: number;
  fractionOfNominal?: number;
}

export function copyBandwidth(rows: CaseRow[], nominalGbps?: number): CopyBandwidth {
  const bySize = new Map<number, number[]>();
  for (const row of rows) {
    if (row.impl !== 'copy') continue;
    const bytes = row.elements * 4;
    if (!bySize.has(bytes)) bySize.set(bytes, []);
    bySize.get(bytes)!.push(row.gbps);
  }
  const sizes = [...bySize.entries()]
    .sort(([a], [b]) => a - b)
    .map(([bytes, values]) => {
      const sorted = [...values].sort((a, b) => a - b);
      const mid = sorted.length >> 1;
      const gbpsMedian = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
      return { bytes, cases: values.length, gbpsMedian, gbpsMax: sorted[sorted.length - 1] };
    });
  const peakGbps = Math.max(0, ...sizes.map((size) => size.gbpsMedian));
  return { sizes, peakGbps, ...(nominalGbps ? { nominalGbps, fractionOfNominal: peakGbps / nominalGbps } : {}) };
}

export function copyBandwidthText(copy: CopyBandwidth): string {
  const sizes = copy.sizes.map((size) => `${formatSize(size.bytes)} ${size.gbpsMedian.toFixed(1)} (best ${size.gbpsMax.toFixed(1)})`).join(', ');
  const nominal = copy.nominalGbps
    ? `; ${(100 * copy.fractionOfNominal!).toFixed(0)} % of the nominal ${copy.nominalGbps} GB/s given by --nominal-gbps`
    : ' (give the card\'s nominal bandwidth with --nominal-gbps N to see the fraction)';
  return `copy bandwidth, GB/s per tensor size (median over cases): ${sizes}; peak ${copy.peakGbps.toFixed(1)} GB/s${nominal}`;
}

/**
 * `--tuning gpu-defaults`: the engine's time over the same call's with the adapter's hand-written
 * tuning, timed beside it, per op over the cases ≥ 4 MB (with `--autotune`: how close autotuning
 * from a real GPU's defaults came to the tuning written for this adapter). Undefined when the run
 * has no such comparison.
 */
export function handTunedText(report: Report): string | undefined {
  const byOp = new Map<string, number[]>();
  for (const { row } of summaryRows(report)) {
    const handTuned = row.extra?.handTunedMs;
    if (row.impl !== 'webgpu' || handTuned === undefined) continue;
    byOp.set(row.op, [...(byOp.get(row.op) ?? []), row.ms / handTuned]);
  }
  if (byOp.size === 0) return undefined;
  const lines = [...byOp].map(([op, ratios]) => {
    const sorted = [...ratios].sort((a, b) => a - b);
    const median = sorted[Math.floor((sorted.length - 1) / 2)];
    return `${op}: median ${median.toFixed(2)}, worst ${sorted[sorted.length - 1].toFixed(2)} over ${sorted.length} cases`;
  });
  return `time with this run's tuning / time with the adapter's hand-written tuning (≥ 4 MB, timed side by side; 1.00 = as fast):\n  ${lines.join('\n  ')}`;
}
