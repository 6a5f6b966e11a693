/** The rows of a run grouped by case (op × layout × shape), implementations in a fixed order. */
import type { CaseRow } from './report';
import type { Impl } from './types';

/** Order of implementations in every output. */
export const implOrder: Impl[] = ['copy', 'webgpu', 'cpu', 'tfjs-webgpu', 'tfjs-cpu'];

export const caseKey = (row: { op: string; layout: string; shape: number[] }) => `${row.op}|${row.layout}|${row.shape.join('x')}`;

export function groupCases(rows: CaseRow[]): CaseRow[][] {
  const groups = new Map<string, CaseRow[]>();
  for (const row of rows) {
    const key = caseKey(row);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(row);
  }
  return [...groups.values()].map((group) => group.sort((a, b) => implOrder.indexOf(a.impl) - implOrder.indexOf(b.impl)));
}
