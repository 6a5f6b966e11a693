import { describe, expect, it } from 'vitest';
import { forwardBackwardRows, speedupCeiling } from '../../bench/lib/ceiling';
import type { CaseRow } from '../../bench/lib/report';
import { summaryRows, summaryText } from '../../bench/lib/table';
import type { Impl, Op } from '../../bench/lib/types';
import type { Layout } from '../../src/types';

/*
 * The ceiling of a case is TF.js WebGPU's time over the copy's: the largest speedup over TF.js any
 * implementation could show there. Built here from rows with known times.
 */

function row(op: Op, layout: Layout, shape: number[], impl: Impl, ms: number): CaseRow {
  const elements = shape.reduce((a, b) => a * b, 1);
  return {
    op, layout, shape, elements, impl, ms, msMin: ms, msMax: ms, floorBytes: 12 * elements, floorMs: 1, ratioToFloor: ms,
    gbps: 1, wallMs: ms, k: 1, reps: 1, timer: 'wall-clock', timed: 'test',
  };
}

const shape = [32, 32, 32, 32]; // 4 MB
const cases: CaseRow[] = [
  row('forward-train', 'NCHW', shape, 'copy', 2),
  row('forward-train', 'NCHW', shape, 'webgpu', 3),
  row('forward-train', 'NCHW', shape, 'tfjs-webgpu', 120),
  row('backward', 'NCHW', shape, 'copy', 3),
  row('backward', 'NCHW', shape, 'webgpu', 5),
  row('backward', 'NCHW', shape, 'tfjs-webgpu', 300),
  // Only ours and the copy: no ceiling, no forward + backward row.
  row('forward-train', 'NC', [8192, 128], 'copy', 2),
  row('forward-train', 'NC', [8192, 128], 'webgpu', 3),
];

describe('speed-up ceiling over TF.js', () => {
  it('is TF.js WebGPU ms over copy ms of the same case', () => {
    expect(speedupCeiling(cases.slice(0, 3))).toBe(60);
    expect(speedupCeiling(cases.slice(3, 6))).toBe(100);
    expect(speedupCeiling(cases.slice(6))).toBeUndefined();
  });

  it('adds forward-train and backward of the same layout and shape', () => {
    const rows = forwardBackwardRows({ cases });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ layout: 'NCHW', shape, oursMs: 8, tfjsMs: 420 });
    expect(rows[0].speedup).toBeCloseTo(52.5, 12);
    expect(rows[0].ceiling).toBe(84);
    expect(forwardBackwardRows({ cases }, 64 * 2 ** 20)).toHaveLength(0);
  });

  it('is carried on every summary row of its case and printed', () => {
    const report = { cases } as Parameters<typeof summaryRows>[0];
    const forward = summaryRows(report).filter((r) => r.row.op === 'forward-train' && r.row.layout === 'NCHW');
    expect(forward.map((r) => r.ceiling)).toEqual([60, 60]);
    expect(forward.map((r) => r.speedup)).toEqual([40, 1]);
    const text = summaryText(report);
    expect(text).toMatch(/ceiling/);
    expect(text.split('\n').find((line) => line.startsWith('backward') && line.includes('webgpu'))).toMatch(/60×\s+100×$/);
  });
});
