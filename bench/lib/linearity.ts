/**
 * How linearly the cost grows with tensor size: per op × layout, for our kernels (webgpu) and the
 * copy floor, the time per element at each size divided by the time per element at a reference
 * size (16 MB). 1.0 at every size is a cost exactly proportional to the size; above 1 at small
 * sizes is fixed per-call overhead, above 1 at large sizes a cost that grows faster than the data.
 *
 * On a shared machine the background load moves both series together (the copy is timed
 * interleaved with webgpu), so webgpu points also carry `vsCopy`: their ratio to the floor divided
 * by that at the reference size, i.e. webgpu's relative time per element over the copy's, which
 * cancels load common to both. 1.0 = our cost grows exactly as a copy's does.
 */
import { formatSize, MB } from './cases';
import type { CaseRow } from './report';
import type { Impl, Op } from './types';

export const LINEARITY_REFERENCE_BYTES = 16 * MB;
export const linearityImpls: Impl[] = ['webgpu', 'copy'];

export interface LinearityPoint {
  /** Bytes per tensor (float32). */
  bytes: number;
  ms: number;
  /** (ms / elements) ÷ (ms / elements at referenceBytes). */
  relative: number;
  /** webgpu only: ratioToFloor ÷ ratioToFloor at referenceBytes (relative over the copy's relative). */
  vsCopy?: number;
}

export interface LinearitySeries {
  op: Op;
  layout: string;
  impl: Impl;
  /** The size the series is relative to: 16 MB, or the measured size nearest to it when 16 MB is missing. */
  referenceBytes: number;
  points: LinearityPoint[];
}

export interface Linearity {
  what: string;
  referenceBytes: number;
  series: LinearitySeries[];
}

/** The summary of `cases`; undefined when no series has two sizes. */
export function linearity(cases: CaseRow[], referenceBytes = LINEARITY_REFERENCE_BYTES): Linearity | undefined {
  const series: LinearitySeries[] = [];
  const keys = [...new Set(cases.filter((r) => linearityImpls.includes(r.impl)).map((r) => `${r.op}|${r.layout}`))];
  for (const key of keys) {
    const [op, layout] = key.split('|');
    for (const impl of linearityImpls) {
      const rows = cases.filter((r) => r.op === op && r.layout === layout && r.impl === impl).sort((a, b) => a.elements - b.elements);
      if (rows.length < 2) continue;
      const distance = (r: CaseRow) => Math.abs(Math.log2((r.elements * 4) / referenceBytes));
      const ref = rows.reduce((best, r) => (distance(r) < distance(best) ? r : best));
      const perElement = ref.ms / ref.elements;
      series.push({
        op: op as Op,
        layout,
        impl,
        referenceBytes: ref.elements * 4,
        points: rows.map((r) => ({
          bytes: r.elements * 4,
          ms: r.ms,
          relative: r.ms / r.elements / perElement,
          ...(impl === 'copy' ? {} : { vsCopy: r.ratioToFloor / ref.ratioToFloor }),
        })),
      });
    }
  }
  if (series.length === 0) return undefined;
  return {
    what:
      `time per element at each size ÷ time per element at ${formatSize(referenceBytes)} (or the nearest measured size, see referenceBytes), per op × layout, for webgpu and copy; 1.0 = cost proportional to size. ` +
      'webgpu points also have vsCopy = their ratioToFloor ÷ that at the reference size: webgpu relative to the copy timed beside it, which cancels background load common to both',
    referenceBytes,
    series,
  };
}

/** The summary as a plain-text table: a row per op × layout × impl, a column per size. */
export function linearityText(summary: Linearity): string {
  const sizes = [...new Set(summary.series.flatMap((s) => s.points.map((p) => p.bytes)))].sort((a, b) => a - b);
  const header = ['op', 'layout', 'impl', ...sizes.map((b) => formatSize(b).replace(' ', ''))];
  const lines: string[][] = [header];
  for (const s of summary.series) {
    const at = (bytes: number) => s.points.find((p) => p.bytes === bytes);
    const note = s.referenceBytes === summary.referenceBytes ? '' : ` (vs ${formatSize(s.referenceBytes)})`;
    lines.push([s.op, s.layout, s.impl + note, ...sizes.map((b) => (at(b) ? at(b)!.relative.toFixed(2) : '—'))]);
    if (s.points.some((p) => p.vsCopy !== undefined)) {
      lines.push(['', '', `${s.impl} ÷ copy${note}`, ...sizes.map((b) => (at(b)?.vsCopy !== undefined ? at(b)!.vsCopy!.toFixed(2) : '—'))]);
    }
  }
  const widths = header.map((_, c) => Math.max(...lines.map((line) => line[c].length)));
  return lines
    .map((line, i) => {
      const text = line.map((v, c) => (c >= 3 ? v.padStart(widths[c]) : v.padEnd(widths[c]))).join('  ');
      return i === 0 ? `${text}\n${widths.map((w) => '─'.repeat(w)).join('  ')}` : text;
    })
    .join('\n');
}
