/**
 * The results file of a run (bench/results/latest.json and the like): a stable contract (schema 1),
 * built from what the page (or Dawn in Node) measured, and a checker for it that the runner applies
 * before writing.
 */
import type { Layout } from '../../src/types';
import { copyBytesPerElement, elementsOf, floorBytesPerElement } from './cases';
import type { Linearity } from './linearity';
import type { CopyBandwidth } from './table';
import { allImpls, allOps, benchDtypes, deviceLimitsModes, type BenchDtype, type DeviceLimits, type HostMicros, type Impl, type MeasuredRow, type Op } from './types';

export interface CaseRow {
  op: Op;
  layout: Layout;
  shape: number[];
  elements: number;
  impl: Impl;
  ms: number;
  msMin: number;
  msMax: number;
  floorBytes: number;
  floorMs: number;
  ratioToFloor: number;
  /** Against the CPU path: always on webgpu rows, also on cpu and TF.js rows. */
  maxAbsErr?: number;
  /** Effective bandwidth: floorBytes / ms (the copy: the 8 bytes per element it moves / ms), GB/s. */
  gbps: number;
  wallMs: number;
  k: number;
  reps: number;
  timer: 'timestamp-query' | 'wall-clock';
  timed: string;
  errors?: Record<string, number>;
  errorNote?: string;
  reference?: string;
  extra?: Record<string, number>;
  /** webgpu rows of forward-train, backward and the norm ops: kernel launches per call (1: one dispatch). */
  dispatches?: number;
}

export interface SkippedRow {
  op: Op;
  layout: Layout;
  shape: number[];
  impl: Impl;
  reason: string;
}

export interface Report {
  schema: 1;
  browser: string;
  /** The adapter's info; newer reports also have its features, subgroup sizes and main limits. */
  adapter: {
    vendor: string;
    architecture: string;
    device?: string;
    description?: string;
    isFallbackAdapter: boolean;
    features?: string[];
    subgroupMinSize?: number;
    subgroupMaxSize?: number;
    limits?: Record<string, number>;
  };
  generated: string;
  command: string;
  quick: boolean;
  /** Tensors' storage type of the run (`--dtype`); absent in reports made before the option: float32. */
  dtype?: BenchDtype;
  durationSeconds: number;
  timer: 'timestamp-query' | 'wall-clock';
  /** The bench device's storage limits (`--device-limits`); absent in reports made before the option. */
  deviceLimits?: DeviceLimits;
  /** The bench device's features (absent in older reports). */
  features?: string[];
  machine: { platform: string; cpus: number; node: string };
  tfjs: string;
  notes: string[];
  cases: CaseRow[];
  skipped: SkippedRow[];
  /** Time per element relative to 16 MB, per op × layout, for webgpu and copy (bench/lib/linearity.ts). */
  linearity?: Linearity;
  /** JavaScript µs per encode… call of the GPU-resident API on warm shapes. */
  hostMicros?: HostMicros;
  /** The copy's GB/s per size (absent in older reports). */
  copyBandwidth?: CopyBandwidth;
}

/** JSON has no NaN or Infinity: an output with NaN/Inf (or the wrong length) reports the largest double. */
export function finiteError(error: number): number {
  return Number.isFinite(error) ? error : Number.MAX_VALUE;
}

/**
 * Adds the floor (from the copy measured in the same case) and the derived fields to each row. With
 * float16 tensors the copy moves the float16 tensor's bytes and the floor counts 2 bytes per value.
 */
export function caseRows(op: Op, layout: Layout, shape: number[], measured: MeasuredRow[], dtype: BenchDtype = 'float32'): CaseRow[] {
  const copy = measured.find((row) => row.impl === 'copy');
  if (!copy) throw new Error(`no copy measurement for ${op} ${layout} [${shape}]: no floor`);
  const elements = elementsOf(shape);
  const floorBytes = floorBytesPerElement(op, dtype) * elements;
  const copied = copyBytesPerElement(dtype) * elements;
  const copyBandwidth = copied / copy.ms; // bytes per ms
  const floorMs = floorBytes / copyBandwidth;
  return measured.map((row) => {
    const moved = row.impl === 'copy' ? copied : floorBytes;
    const out: CaseRow = {
      op,
      layout,
      shape,
      elements,
      impl: row.impl,
      ms: row.ms,
      msMin: row.msMin,
      msMax: row.msMax,
      floorBytes,
      floorMs,
      ratioToFloor: row.ms / floorMs,
      ...(row.maxAbsErr !== undefined ? { maxAbsErr: finiteError(row.maxAbsErr) } : {}),
      gbps: moved / row.ms / 1e6,
      wallMs: row.wallMs,
      k: row.k,
      reps: row.reps,
      timer: row.timer,
      timed: row.timed,
    };
    if (row.errors) out.errors = Object.fromEntries(Object.entries(row.errors).map(([name, e]) => [name, finiteError(e)]));
    if (row.maxAbsErr !== undefined && !Number.isFinite(row.maxAbsErr)) out.errorNote = 'NaN, Inf or missing values in the output';
    if (row.reference) out.reference = row.reference;
    if (row.extra) out.extra = row.extra;
    // The same op timed beside the row on the three-kernel path (a one-dispatch row) or with the
    // adapter's hand-written tuning (--tuning gpu-defaults): their ratios too.
    for (const name of ['threeKernels', 'handTuned']) {
      const ms = out.extra?.[`${name}Ms`];
      if (ms !== undefined) out.extra = { ...out.extra, [`${name}RatioToFloor`]: ms / floorMs };
    }
    if (row.dispatches !== undefined) out.dispatches = row.dispatches;
    return out;
  });
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Every way `report` breaks the contract (empty when it holds). */
export function checkReport(report: Report): string[] {
  const problems: string[] = [];
  const need = (ok: boolean, what: string) => ok || problems.push(what);
  need(report.schema === 1, 'schema must be 1');
  need(typeof report.browser === 'string' && report.browser.length > 0, 'browser must be a non-empty string');
  const a = report.adapter;
  need(a !== null && typeof a === 'object', 'adapter must be an object');
  if (a) {
    need(typeof a.vendor === 'string', 'adapter.vendor must be a string');
    need(typeof a.architecture === 'string', 'adapter.architecture must be a string');
    need(typeof a.isFallbackAdapter === 'boolean', 'adapter.isFallbackAdapter must be a boolean');
  }
  const limits = report.deviceLimits;
  if (limits !== undefined) {
    // Optional (added after schema 1 was fixed): checked only when present.
    need(deviceLimitsModes.includes(limits.requested), `deviceLimits.requested must be ${deviceLimitsModes.join(' or ')}`);
    for (const key of ['maxStorageBufferBindingSize', 'maxBufferSize'] as const) {
      need(Number.isSafeInteger(limits[key]) && limits[key] > 0, `deviceLimits.${key} must be a positive integer`);
    }
  }
  if (report.copyBandwidth !== undefined) {
    const copy = report.copyBandwidth;
    need(Array.isArray(copy.sizes) && copy.sizes.every((size) => Number.isSafeInteger(size.bytes) && isNum(size.gbpsMedian) && isNum(size.gbpsMax)), 'copyBandwidth.sizes must list bytes, gbpsMedian and gbpsMax');
    need(isNum(copy.peakGbps) && copy.peakGbps > 0, 'copyBandwidth.peakGbps must be a positive number');
  }
  // Optional (added after schema 1 was fixed): absent means float32, the floors' unit.
  need(report.dtype === undefined || benchDtypes.includes(report.dtype), `dtype must be ${benchDtypes.join(' or ')}`);
  const dtype = report.dtype ?? 'float32';
  need(Array.isArray(report.cases) && report.cases.length > 0, 'cases must be a non-empty array');
  for (const [i, row] of (report.cases ?? []).entries()) {
    const at = `cases[${i}] (${row.op} ${row.layout} ${row.impl})`;
    need(allOps.includes(row.op), `${at}: op '${row.op}' not in ${allOps.join('|')}`);
    need(allImpls.includes(row.impl), `${at}: impl '${row.impl}' not in ${allImpls.join('|')}`);
    need(typeof row.layout === 'string', `${at}: layout must be a string`);
    need(Array.isArray(row.shape) && row.shape.every((d) => Number.isInteger(d) && d > 0), `${at}: shape must be positive integers`);
    need(row.elements === elementsOf(row.shape ?? []), `${at}: elements ≠ product of shape`);
    for (const key of ['ms', 'msMin', 'msMax', 'floorBytes', 'floorMs', 'ratioToFloor'] as const) {
      need(isNum(row[key]) && row[key] >= 0, `${at}: ${key} must be a finite number ≥ 0`);
    }
    need(row.msMin <= row.ms && row.ms <= row.msMax, `${at}: expected msMin ≤ ms ≤ msMax`);
    const perElement = floorBytesPerElement(row.op, dtype);
    need(row.floorBytes === perElement * row.elements, `${at}: floorBytes ≠ ${perElement} × elements (${dtype})`);
    need(Math.abs(row.ratioToFloor - row.ms / row.floorMs) <= 1e-9 * row.ratioToFloor, `${at}: ratioToFloor ≠ ms / floorMs`);
    if (row.impl === 'webgpu') need(isNum(row.maxAbsErr), `${at}: webgpu rows need a finite maxAbsErr`);
  }
  // Every case that has rows has its floor: exactly one copy row per (op, layout, shape).
  const copies = new Map<string, number>();
  for (const row of report.cases ?? []) {
    const key = `${row.op}|${row.layout}|${row.shape}`;
    copies.set(key, (copies.get(key) ?? 0) + (row.impl === 'copy' ? 1 : 0));
  }
  for (const [key, count] of copies) need(count === 1, `case ${key} has ${count} copy rows (needs exactly 1)`);
  return problems;
}
