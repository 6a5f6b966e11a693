/**
 * Where our kernels' time goes, for `npm run bench:analyze` (headless Chromium) and
 * `node bench-gpu.mjs --analyze` (Dawn in Node, any adapter): for each size, the copy kernel under
 * many launch shapes; for each layout and size, the copy floor, a read-only pass over x, each of our
 * kernels alone and the whole ops, under a set of launch tunings chosen for the kind of adapter (a
 * GPU's knobs on a GPU, a CPU adapter's on SwiftShader or lavapipe). Printed as ms and GB/s (bytes
 * the variant must move / time) and returned as one JSON-ready report.
 */
import { defaultTuning, softwareAdapterTuning, type KernelTuning } from '../../src/gpu/tuning';
import type { Layout } from '../../src/types';
import type { CopyShape } from '../page/copy-kernel';
import { formatSize, shapeFor } from './cases';
import { formatMs } from './table';
import type { TimingPlan } from './types';

export interface AnalysisRow {
  /** The tuning's label ('copy' for the copy sweep). */
  tuning: string;
  variant: string;
  ms: number;
  msMin: number;
  msMax: number;
  /** Bytes the variant must move at least, and the resulting GB/s. */
  bytes: number;
  gbps: number;
}

/** A launch tuning to analyse: overrides on the GPU defaults (src/gpu/tuning.ts, defaultTuning). */
export interface AnalysisTuning {
  label: string;
  overrides: Partial<KernelTuning>;
}

/** What runs the kernels: the bench page through puppeteer, or the Node bench in its own process. */
export interface AnalysisDriver {
  analyzeCopy(elements: number, shapes: CopyShape[], plan: TimingPlan): Promise<AnalysisRow[]>;
  analyze(layout: Layout, shape: number[], tunings: AnalysisTuning[], plan: TimingPlan): Promise<AnalysisRow[]>;
}

export interface AnalysisReport {
  kind: 'analysis';
  runtime: string;
  adapter: { vendor: string; architecture: string; device: string; description: string };
  command: string;
  date: string;
  /** Whether the adapter got a CPU adapter's tunings (software: SwiftShader, lavapipe, WARP). */
  software: boolean;
  /** False while the run goes on: the file is rewritten after every case, so a stopped run leaves its rows. */
  complete: boolean;
  copy: { bytes: number; rows: AnalysisRow[] }[];
  cases: { layout: Layout; shape: number[]; bytes: number; rows: AnalysisRow[] }[];
}

/** The rows of a run, so far or in all. */
export type AnalysisResult = Pick<AnalysisReport, 'copy' | 'cases'>;

export const analysisPlan: TimingPlan = { targetBatchMs: 40, maxK: 32, minReps: 5, maxReps: 9, budgetMs: 3000 };

const MiB = 1024 * 1024;

/**
 * The tunings compared. On a GPU, the knobs that decide its launches, one at a time around the
 * defaults: bytes of loads in flight of the reductions (thread count), workgroup size, units per
 * apply thread, and the barrier-tree workgroup sums instead of subgroup ones. On a CPU adapter, its
 * own tuning against the GPU defaults and the choices it differs by.
 */
export function analysisTunings(software: boolean): AnalysisTuning[] {
  if (!software) {
    return [
      { label: 'GPU defaults', overrides: {} },
      ...[MiB / 2, 8 * MiB, 32 * MiB].map((bytes) => ({ label: `statsBytesInFlight ${bytes / MiB} MiB (default ${defaultTuning.statsBytesInFlight / MiB})`, overrides: { statsBytesInFlight: bytes } })),
      ...[64, 128].map((workgroupSize) => ({ label: `workgroupSize ${workgroupSize} (default ${defaultTuning.workgroupSize})`, overrides: { workgroupSize } })),
      ...[1, 16].map((units) => ({ label: `applyUnitsPerThread ${units} (default ${defaultTuning.applyUnitsPerThread})`, overrides: { applyUnitsPerThread: units } })),
      { label: 'useSubgroups false (barrier-tree workgroup sums)', overrides: { useSubgroups: false } },
    ];
  }
  const own = { ...softwareAdapterTuning };
  return [
    { label: 'software adapter tuning', overrides: own },
    { label: 'GPU defaults', overrides: {} },
    { label: 'software, applyUnitsPerThread 4', overrides: { ...own, applyUnitsPerThread: 4 } },
    { label: 'software, blockedRows false (every K-th row)', overrides: { ...own, blockedRows: false } },
    { label: 'software, runSegments false (a workgroup sum per chunk)', overrides: { ...own, runSegments: false } },
    { label: 'software, workgroupSize 256', overrides: { ...own, workgroupSize: 256 } },
  ];
}

/** The copy kernel's launch shapes swept per size (the floor takes the fastest of copyShapesFor's). */
export function analysisCopyShapes(software: boolean): CopyShape[] {
  if (!software) return [64, 128, 256].flatMap((workgroupSize) => [1, 4, 16].map((unitsPerThread) => ({ workgroupSize, unitsPerThread })));
  return [
    ...[4, 8, 16, 32].flatMap((unitsPerThread) => [64, 128].map((workgroupSize) => ({ workgroupSize, unitsPerThread }))),
    ...[64, 256, 1024].flatMap((unitsPerThread) => [4, 16, 64].map((workgroupSize) => ({ workgroupSize, unitsPerThread, walk: 'segments' as const }))),
  ];
}

function printRow(log: (line: string) => void, row: AnalysisRow): void {
  log(`    ${row.variant.padEnd(58)} ${formatMs(row.ms).padStart(9)}  ${row.gbps.toFixed(2).padStart(7)} GB/s  [${formatMs(row.msMin)} … ${formatMs(row.msMax)}]`);
}

/** Runs the analysis over layouts × sizes on `driver`, printing as it goes. */
export async function runAnalysis(
  driver: AnalysisDriver,
  options: { layouts: Layout[]; sizes: number[]; software: boolean },
  log: (line: string) => void,
  /** Called with the rows so far after each size's copy sweep and each case (results written as they come). */
  progress: (result: AnalysisResult) => void = () => {},
): Promise<AnalysisResult> {
  const copy: AnalysisReport['copy'] = [];
  const cases: AnalysisReport['cases'] = [];
  const copyShapes = analysisCopyShapes(options.software);
  for (const bytes of options.sizes) {
    log(`\ncopy kernel launch shapes, ${formatSize(bytes)}`);
    const rows = await driver.analyzeCopy(bytes / 4, copyShapes, analysisPlan);
    rows.forEach((row) => printRow(log, row));
    copy.push({ bytes, rows });
    progress({ copy, cases });
  }
  const tunings = analysisTunings(options.software);
  for (const layout of options.layouts) {
    for (const bytes of options.sizes) {
      const shape = shapeFor(layout, bytes);
      log(`\n${layout} [${shape.join(', ')}] (${formatSize(bytes)})`);
      const rows = await driver.analyze(layout, shape, tunings, analysisPlan);
      let tuning = '';
      for (const row of rows) {
        if (row.tuning !== tuning) {
          tuning = row.tuning;
          log(`  ${tuning}`);
        }
        printRow(log, row);
      }
      cases.push({ layout, shape, bytes, rows });
      progress({ copy, cases });
    }
  }
  return { copy, cases };
}

/** The report of a run: what ran it, on which adapter, and every row. */
export function analysisReport(
  environment: { runtime: string; adapter: AnalysisReport['adapter'] },
  command: string,
  software: boolean,
  result: AnalysisResult,
  complete: boolean,
): AnalysisReport {
  const { vendor, architecture, device, description } = environment.adapter;
  return { kind: 'analysis', runtime: environment.runtime, adapter: { vendor, architecture, device, description }, command, date: new Date().toISOString(), software, complete, ...result };
}
