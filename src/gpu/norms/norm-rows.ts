import type { NormView } from '../../norms/norm-types';
import type { GpuContext } from '../context';
import { shaders } from '../shader-sources';
import { foldWorkgroups, tensorBytes } from '../slabs';
import type { KernelTuning } from '../tuning';

/**
 * The row-wise walk of the norm family's elementwise kernels (shaders/norm-row-walk.wgsl): rows of
 * D contiguous values as vec4 units, `rowThreads` threads per row, each loading its row's
 * statistics once. It serves rows whose four values of a unit share a row and a parameter block:
 * D % 4 == 0 and inner == 1 ('Vec4Channels': a unit's lanes are four parameters) or inner % 4 == 0
 * ('Vec4Run': one parameter), tensors within one storage binding. Other shapes (channels-last
 * rows among them), and tensors above one binding, take the tensor-wide walk (elementwise-span.wgsl).
 */
export interface RowWalk {
  variant: 'Vec4Columns' | 'Vec4Channels' | 'Vec4Run';
  rowThreads: number;
  /** Vec4Columns: threads per column set, each walking every rowGroups-th row (else 1 per row). */
  rowGroups: number;
  rowUnits: number;
  /** Units per parameter (1 for Vec4Channels). */
  inner: number;
  /** Parameters per group, in units of γ's binding (vec4s for Vec4Channels). */
  groupParams: number;
  grid: [number, number];
}

const nextPowerOfTwo = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

/** Units of a row whose γ and β a Columns thread holds (norm-rows-apply.wgsl's COLUMN_UNITS). */
const COLUMN_UNITS = Number(/const\s+COLUMN_UNITS\s*:\s*u32\s*=\s*(\d+)u\s*;/.exec(shaders.normRowsApply.code)?.[1]);

/**
 * Threads per row of the Channels and Run walks, which split `units` (a row, or a channel's run)
 * among them: software adapters (tuning.runSegments) give a row to one 4-lane invocation group,
 * whose lanes read neighbouring units and walk the row in long loops; GPUs give it up to a
 * workgroup, so that short rows still spread over many threads.
 */
function rowThreadsFor(units: number, tuning: KernelTuning): number {
  const wanted = tuning.runSegments ? 4 : tuning.workgroupSize;
  return Math.min(wanted, nextPowerOfTwo(units));
}

/**
 * Threads sharing a column set (each walking every rowGroups-th row). The forward wants enough
 * threads to fill the device: software adapters get SOFTWARE_THREADS in all (their long loops
 * amortize each thread's γ and β loads), GPUs a thread group per row. The backward keeps one part
 * of dγ and dβ per row group (rowGroups · D pairs of partial sums, folded after), so GPUs are capped
 * at GPU_BACKWARD_THREADS threads.
 */
const SOFTWARE_THREADS = 512;
const GPU_BACKWARD_THREADS = 16384;

function rowGroupsFor(rows: number, rowThreads: number, tuning: KernelTuning, purpose: 'forward' | 'backward'): number {
  if (!tuning.runSegments && purpose === 'forward') return rows;
  const threads = tuning.runSegments ? SOFTWARE_THREADS : GPU_BACKWARD_THREADS;
  return Math.min(rows, Math.max(1, Math.floor(threads / rowThreads)));
}

export function planRowWalk(view: NormView, tuning: KernelTuning, bindingBytes: number, maxWorkgroupsPerDimension: number, purpose: 'forward' | 'backward' = 'forward'): RowWalk | undefined {
  const { rowLength, inner, params, groups, rows } = view;
  // Channels-last rows are strided (NormView): the tensor-wide kernels index them.
  if (view.channelsLast || rowLength % 4 !== 0 || tensorBytes(view.size) > bindingBytes) return undefined;
  const channels = inner === 1;
  if (!channels && inner % 4 !== 0) return undefined;
  const rowUnits = rowLength / 4;
  if (channels && groups === 1) {
    // Each thread holds up to COLUMN_UNITS units' γ and β (as few threads as hold the row, so that
    // every thread's registers are used); at least four threads share a row, so that an
    // invocation group's lanes read neighbouring units.
    const rowThreads = Math.max(Math.min(4, rowUnits), Math.ceil(rowUnits / COLUMN_UNITS));
    const rowGroups = rowGroupsFor(rows, rowThreads, tuning, purpose);
    const workgroups = Math.ceil((rowGroups * rowThreads) / tuning.workgroupSize);
    if (workgroups > maxWorkgroupsPerDimension ** 2) return undefined;
    return { variant: 'Vec4Columns', rowThreads, rowGroups, rowUnits, inner: 1, groupParams: rowUnits, grid: foldWorkgroups(workgroups, maxWorkgroupsPerDimension) };
  }
  // The backward's Run kernels take channel runs; a unit of several parameters (group norm of 2-D
  // input with groups > 1) takes the tensor-wide kernels.
  if (purpose === 'backward' && channels) return undefined;
  const rowThreads = rowThreadsFor(channels ? rowUnits : inner / 4, tuning);
  const workgroups = Math.ceil((rows * rowThreads) / tuning.workgroupSize);
  if (workgroups > maxWorkgroupsPerDimension ** 2) return undefined;
  return {
    variant: channels ? 'Vec4Channels' : 'Vec4Run',
    rowThreads,
    rowGroups: rows,
    rowUnits,
    inner: channels ? 1 : inner / 4,
    groupParams: channels ? params / groups / 4 : params / groups,
    grid: foldWorkgroups(workgroups, maxWorkgroupsPerDimension),
  };
}

/**
 * How many of a Columns thread's COLUMN_UNITS units (lane + j·rowThreads) lie in the row whatever
 * the lane: units j < ⌊rowUnits / rowThreads⌋ end before j·rowThreads + rowThreads ≤ rowUnits. The
 * kernels' UNITS_IN_ROW (norm-row-walk.wgsl), which drops those units' bounds tests: all four where D
 * is a multiple of 16 and at least 64, three for most other rows of vec4 units. 0 for other walks.
 */
export function unitsInRow(walk: RowWalk): number {
  return walk.variant === 'Vec4Columns' ? Math.min(COLUMN_UNITS, Math.floor(walk.rowUnits / walk.rowThreads)) : 0;
}

export function planRowWalkWork(context: GpuContext, view: NormView, purpose: 'forward' | 'backward' = 'forward'): RowWalk | undefined {
  return planRowWalk(view, context.tuning, context.bindingBytes, context.maxWorkgroupsPerDimension, purpose);
}

/** Where the row-wise backward keeps its partial sums in one scratch buffer (indices of float32s). */
export function rowBackwardLayout(view: NormView, walk: RowWalk): { columnPartials: number; rowSums: number; floats: number } {
  const columnPartials = 2 * view.rows * walk.rowThreads;
  // Columns: (Σ g·x̂, Σ g) as two vec4s per (rowGroup, unit); Run: a pair per (sample, channel, lane).
  const columns = walk.variant === 'Vec4Columns' ? 8 * walk.rowGroups * walk.rowUnits : 2 * view.outer * view.params * walk.rowThreads;
  const rowSums = columnPartials + columns;
  return { columnPartials, rowSums, floats: rowSums + 2 * view.rows };
}

/** The params every row-wise kernel reads (norm-row-walk.wgsl and the row's parameter block). */
export function rowWalkParams(view: NormView, walk: RowWalk): Record<string, number> {
  return { rows: view.rows, rowThreads: walk.rowThreads, rowGroups: walk.rowGroups, rowUnits: walk.rowUnits, inner: walk.inner, groups: view.groups, groupParams: walk.groupParams };
}

/** Rows of a thread's column sums per block (norm-rows-backward.wgsl's ROW_BLOCK). */
const ROW_BLOCK = Number(/const\s+ROW_BLOCK\s*:\s*u32\s*=\s*(\d+)u\s*;/.exec(shaders.normRowsBackward.code)?.[1]);

/** Samples per block of the Run fold's channel sums (norm-rows-backward-fold.wgsl's SAMPLE_BLOCK). */
const SAMPLE_BLOCK = Number(/const\s+SAMPLE_BLOCK\s*:\s*u32\s*=\s*(\d+)u\s*;/.exec(shaders.normRowsBackwardFold.code)?.[1]);

/**
 * Longest chains of additions a term goes through in the row-wise backward's sums, as
 * norm-rows-backward.wgsl states them (the tests derive their tolerances from these):
 * - Columns: a row's A and B: the unit's four lanes (3, after the product), a lane's four units (3),
 *   the fold's rowThreads parts (foldChain); a column's dγ and dβ: a thread's rows in blocks of
 *   ROW_BLOCK (a block, then the running sum), the fold's rowGroups parts in order;
 * - Run: a row's: the unit's lanes (3), a lane's units of a run, the row's runs, the fold's lanes
 *   (foldChain);
 *   a channel's: a lane's units (then its four lanes, 2), the fold's lanes, then the samples in
 *   blocks of SAMPLE_BLOCK.
 */
/**
 * The fold's chain for a row's lanes (norm-rows-backward-fold.wgsl, foldRow): a pair of lanes (1), a
 * step into its running sum (one per four lanes), the lanes left over one by one, the two sums.
 */
function foldChain(rowThreads: number): number {
  return 1 + Math.floor(rowThreads / 4) + (rowThreads % 4) + 1;
}

export function rowWiseChains(view: NormView, walk: RowWalk): { row: number; column: number } {
  if (walk.variant === 'Vec4Run') {
    const laneUnits = Math.ceil(walk.inner / walk.rowThreads);
    const samples = Math.min(view.outer, SAMPLE_BLOCK) + Math.ceil(view.outer / SAMPLE_BLOCK);
    return { row: 3 + laneUnits + walk.groupParams + foldChain(walk.rowThreads), column: laneUnits + 2 + walk.rowThreads + samples };
  }
  const rowsPerThread = Math.ceil(view.rows / walk.rowGroups);
  return { row: 6 + foldChain(walk.rowThreads), column: Math.min(rowsPerThread, ROW_BLOCK) + Math.ceil(rowsPerThread / ROW_BLOCK) + walk.rowGroups };
}
