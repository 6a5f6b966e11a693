import { describe, expect, it } from 'vitest';
import { caseRows } from '../../bench/lib/report';
import { handTunedText } from '../../bench/lib/table';
import type { MeasuredRow } from '../../bench/lib/types';

/*
 * `--tuning gpu-defaults`: each row is also timed with the adapter's hand-written tuning. Its ratio
 * to the floor is derived like the row's, and the ≥ 4 MB summary compares the two times per op.
 */

function measured(impl: MeasuredRow['impl'], ms: number, extra?: Record<string, number>): MeasuredRow {
  return { impl, ms, msMin: ms, msMax: ms, wallMs: ms, k: 1, reps: 1, timer: 'timestamp-query', timed: 'test', ...(extra ? { extra } : {}) };
}

describe('hand-tuned comparison', () => {
  const big = [32, 32, 32, 32]; // 4 MB
  const rows = [
    // forward-train: floor = 12 B / element = 1.5 copies.
    ...caseRows('forward-train', 'NCHW', big, [measured('copy', 2), measured('webgpu', 3.3, { handTunedMs: 3 })]),
    ...caseRows('forward-train', 'NC', [8192, 128], [measured('copy', 2), measured('webgpu', 2.7, { handTunedMs: 3 })]),
    ...caseRows('forward-train', 'NHWC', big, [measured('copy', 2), measured('webgpu', 3, { handTunedMs: 3 })]),
    // Below 4 MB: left out of the summary.
    ...caseRows('forward-train', 'NC', [32, 128], [measured('copy', 0.01), measured('webgpu', 0.1, { handTunedMs: 0.01 })]),
    ...caseRows('inference', 'NC', [8192, 128], [measured('copy', 2), measured('webgpu', 2)]),
  ];

  it('gets a ratio to the floor like its row', () => {
    const row = rows.find((r) => r.impl === 'webgpu' && r.layout === 'NCHW')!;
    expect(row.floorMs).toBeCloseTo(3, 12);
    expect(row.extra?.handTunedRatioToFloor).toBeCloseTo(1, 12);
    expect(row.ratioToFloor).toBeCloseTo(1.1, 12);
  });

  it('is summarised per op over the cases of 4 MB and more, median and worst', () => {
    const text = handTunedText({ cases: rows } as Parameters<typeof handTunedText>[0])!;
    expect(text).toMatch(/forward-train: median 1\.00, worst 1\.10 over 3 cases/);
    expect(text).not.toMatch(/inference/);
    expect(handTunedText({ cases: rows.filter((r) => r.op === 'inference') } as Parameters<typeof handTunedText>[0])).toBeUndefined();
  });
});
