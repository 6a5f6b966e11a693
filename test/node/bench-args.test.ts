import { describe, expect, it } from 'vitest';
import { parseArgs } from '../../bench/lib/args';
import { MB } from '../../bench/lib/cases';
import { linearity, linearityText } from '../../bench/lib/linearity';
import { outputPaths } from '../../bench/lib/outputs';
import type { CaseRow } from '../../bench/lib/report';

describe('bench command line', () => {
  it('requests the adapter limits unless told otherwise', () => {
    expect(parseArgs([]).deviceLimits).toBe('adapter');
    expect(parseArgs(['--device-limits', 'default']).deviceLimits).toBe('default');
    expect(parseArgs(['--device-limits=adapter']).deviceLimits).toBe('adapter');
    expect(parseArgs(['--device-limits', 'DEFAULT']).deviceLimits).toBe('default');
  });

  it('starts from the adapter tuning without autotuning unless told otherwise', () => {
    expect(parseArgs([])).toMatchObject({ tuning: 'adapter', autotune: false });
    expect(parseArgs(['--tuning', 'gpu-defaults', '--autotune'])).toMatchObject({ tuning: 'gpu-defaults', autotune: true });
    expect(() => parseArgs(['--tuning', 'fast'])).toThrow(/--tuning 'fast'/);
  });

  it('rejects unknown or missing --device-limits values', () => {
    expect(() => parseArgs(['--device-limits', 'max'])).toThrow(/--device-limits 'max'/);
    expect(() => parseArgs(['--device-limits'])).toThrow(/needs a value/);
    expect(() => parseArgs(['--device-limits', '--quick'])).toThrow(/needs a value/);
  });

  it('lets a later option override an earlier one (npm run bench:curve -- --device-limits adapter)', () => {
    const args = parseArgs(['--sizes', '64KB,512MB', '--device-limits', 'default', '--out', 'a.json', '--device-limits', 'adapter', '--out', 'b.json', '--sizes', '1MB']);
    expect(args.deviceLimits).toBe('adapter');
    expect(args.out).toBe('b.json');
    expect(args.sizes).toEqual([MB]);
    expect(parseArgs(['--sizes', '128MB,256MB,512MB']).sizes).toEqual([128 * MB, 256 * MB, 512 * MB]);
  });
});

describe('bench outputs', () => {
  it('writes README-table.md only beside latest.json', () => {
    expect(outputPaths('/r/bench/results/latest.json')).toEqual({
      json: '/r/bench/results/latest.json',
      chart: '/r/bench/results/latest.svg',
      table: '/r/bench/results/README-table.md',
    });
    expect(outputPaths('/r/bench/results/size-curve.json')).toEqual({
      json: '/r/bench/results/size-curve.json',
      chart: '/r/bench/results/size-curve.svg',
      table: '/r/bench/results/size-curve-table.md',
    });
  });

  it('gives time per element relative to 16 MB, per op × layout, for webgpu and copy', () => {
    // Copy rows of a case are its floor: ratioToFloor = ms ÷ (copy ms of that size) here (inference moves a copy's bytes).
    const copyMs: Record<number, number> = { [4 * MB]: 1, [16 * MB]: 4, [64 * MB]: 16, [512 * MB]: 160 };
    const row = (impl: CaseRow['impl'], bytes: number, ms: number, layout: CaseRow['layout'] = 'NC') =>
      ({ op: 'inference', layout, impl, elements: bytes / 4, ms, ratioToFloor: ms / copyMs[bytes] }) as CaseRow;
    const cases = [
      row('copy', 4 * MB, 1),
      row('copy', 16 * MB, 4),
      row('copy', 512 * MB, 160),
      row('webgpu', 4 * MB, 2),
      row('webgpu', 16 * MB, 4),
      row('webgpu', 512 * MB, 128),
      row('cpu', 4 * MB, 9),
      row('cpu', 16 * MB, 9),
      // No 16 MB point: relative to the nearest size.
      row('webgpu', 4 * MB, 1, 'NCHW'),
      row('webgpu', 64 * MB, 16, 'NCHW'),
    ];
    const summary = linearity(cases)!;
    expect(summary.series.map((s) => `${s.layout} ${s.impl}`)).toEqual(['NC webgpu', 'NC copy', 'NCHW webgpu']);
    const [webgpu, copy, nchw] = summary.series;
    expect(webgpu.points.map((p) => p.relative)).toEqual([2, 1, 1]);
    expect(copy.points.map((p) => p.relative)).toEqual([1, 1, 1.25]);
    // Against the copy: 2 ÷ 1 at 4 MB, 1 ÷ 1.25 at 512 MB.
    expect(webgpu.points.map((p) => p.vsCopy)).toEqual([2, 1, 0.8]);
    expect(copy.points.every((p) => p.vsCopy === undefined)).toBe(true);
    expect(nchw.referenceBytes).toBe(4 * MB);
    expect(nchw.points.map((p) => p.relative)).toEqual([1, 1]);
    const text = linearityText(summary);
    expect(text).toContain('512MB');
    expect(text).toMatch(/NC\s+copy\s+1\.00\s+1\.00\s+—\s+1\.25/);
    expect(text).toMatch(/webgpu ÷ copy\s+2\.00\s+1\.00\s+—\s+0\.80/);
    expect(linearity([row('webgpu', MB, 1)])).toBeUndefined();
  });
});
