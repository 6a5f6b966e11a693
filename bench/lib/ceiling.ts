/**
 * How far ahead of TF.js any kernel on a device could be in a case. Every op writes one tensor
 * computed from another of the same size (y from x; dx from x and dy), so on a given device it
 * costs at least what copying that tensor costs there; the copy of the case is exactly that copy,
 * timed in the same run. TF.js's time divided by the copy's is then the largest speedup over TF.js
 * that any kernel on that device could show in that case, however fast: where it is below a target,
 * the target cannot be met on that device.
 */
import type { CaseRow, Report } from './report';
import { groupCases } from './groups';

const find = (group: CaseRow[], impl: CaseRow['impl']) => group.find((row) => row.impl === impl);

/** TF.js WebGPU ms ÷ copy ms for one case (op × layout × shape); undefined without both rows. */
export function speedupCeiling(group: CaseRow[]): number | undefined {
  const tfjs = find(group, 'tfjs-webgpu');
  const copy = find(group, 'copy');
  return tfjs && copy ? tfjs.ms / copy.ms : undefined;
}

/** One training step's normalization: forward-train then backward on the same layout and shape. */
export interface ForwardBackwardRow {
  layout: string;
  shape: number[];
  elements: number;
  /** Ours on the GPU: forward-train ms + backward ms. */
  oursMs: number;
  tfjsMs: number;
  speedup: number;
  /** (TF.js forward + backward) ÷ (the copies of both cases). */
  ceiling: number;
}

/** Forward-train + backward per layout and shape, where both ops ran ours, TF.js WebGPU and the copy. */
export function forwardBackwardRows(report: Pick<Report, 'cases'>, minBytes = 0): ForwardBackwardRow[] {
  const groups = groupCases(report.cases.filter((row) => row.elements * 4 >= minBytes));
  const key = (row: CaseRow) => `${row.layout}|${row.shape.join('x')}`;
  const backwardOf = new Map(groups.filter((g) => g[0].op === 'backward').map((g) => [key(g[0]), g]));
  const out: ForwardBackwardRow[] = [];
  for (const forward of groups.filter((g) => g[0].op === 'forward-train')) {
    const backward = backwardOf.get(key(forward[0]));
    if (!backward) continue;
    const rows = [forward, backward].map((g) => ({ ours: find(g, 'webgpu'), tfjs: find(g, 'tfjs-webgpu'), copy: find(g, 'copy') }));
    if (!rows.every((r) => r.ours && r.tfjs && r.copy)) continue;
    const sum = (pick: (r: (typeof rows)[number]) => CaseRow | undefined) => rows.reduce((total, r) => total + pick(r)!.ms, 0);
    const oursMs = sum((r) => r.ours);
    const tfjsMs = sum((r) => r.tfjs);
    const { layout, shape, elements } = forward[0];
    out.push({ layout, shape, elements, oursMs, tfjsMs, speedup: tfjsMs / oursMs, ceiling: tfjsMs / sum((r) => r.copy) });
  }
  return out;
}
