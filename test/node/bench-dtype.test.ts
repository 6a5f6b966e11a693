import { describe, expect, it } from 'vitest';
import { parseArgs } from '../../bench/lib/args';
import { copyBytesPerElement, floorBytesPerElement } from '../../bench/lib/cases';
import { caseRows, checkReport, type Report } from '../../bench/lib/report';
import { ERROR_LIMIT, ERROR_LIMIT_FLOAT16, errorLimit, isWrong } from '../../bench/lib/table';
import { allOps, type MeasuredRow } from '../../bench/lib/types';
import { toFloat16Bits, fromFloat16Bits } from '../../src/index';

/*
 * `--dtype float16`: the floors count 2 bytes per tensor value, the copy moves the float16 tensor's
 * bytes, the report says which dtype its floors are in, and the error limit suits float16 outputs.
 */

function measured(impl: MeasuredRow['impl'], ms: number, maxAbsErr?: number): MeasuredRow {
  return { impl, ms, msMin: ms, msMax: ms, wallMs: ms, k: 1, reps: 1, timer: 'timestamp-query', timed: 'test', ...(maxAbsErr !== undefined ? { maxAbsErr } : {}) };
}

function report(dtype: Report['dtype'], rows: Report['cases']): Report {
  return {
    schema: 1,
    browser: 'test',
    adapter: { vendor: 'v', architecture: 'a', isFallbackAdapter: true },
    generated: '2026-01-01T00:00:00Z',
    command: 'test',
    quick: true,
    ...(dtype ? { dtype } : {}),
    durationSeconds: 1,
    timer: 'timestamp-query',
    machine: { platform: 'linux', cpus: 2, node: 'v20' },
    tfjs: 'not run',
    notes: [],
    cases: rows,
    skipped: [],
  };
}

describe('bench floors by dtype', () => {
  it('float16 floors are half the float32 ones, op by op', () => {
    // Batch norm's five ops, then the norm family's forward (12) and backward (20) of layer, RMS and group norm.
    expect(allOps.map((op) => floorBytesPerElement(op))).toEqual([12, 20, 8, 16, 24, 12, 20, 12, 20, 12, 20]);
    expect(allOps.map((op) => floorBytesPerElement(op, 'float16'))).toEqual([6, 10, 4, 8, 12, 6, 10, 6, 10, 6, 10]);
    expect([copyBytesPerElement('float32'), copyBytesPerElement('float16')]).toEqual([8, 4]);
  });

  it('a float16 case derives its floor from the copy of the float16 tensor', () => {
    const shape = [32, 32, 32, 32];
    // The float16 copy moves 4 B per element in 2 ms; forward-train's 6 B per element then take 3 ms.
    const rows = caseRows('forward-train', 'NCHW', shape, [measured('copy', 2), measured('webgpu', 3.3, 1e-3)], 'float16');
    const gpu = rows.find((r) => r.impl === 'webgpu')!;
    expect(gpu.floorBytes).toBe(6 * 32 ** 4);
    expect(gpu.floorMs).toBeCloseTo(3, 12);
    expect(gpu.ratioToFloor).toBeCloseTo(1.1, 12);
    expect(rows.find((r) => r.impl === 'copy')!.gbps).toBeCloseTo((4 * 32 ** 4) / 2 / 1e6, 9);
    // The same times in float32: 12 B per element against a copy of 8 B, the same 3 ms floor.
    const f32 = caseRows('forward-train', 'NCHW', shape, [measured('copy', 2), measured('webgpu', 3.3, 1e-6)]);
    expect(f32.find((r) => r.impl === 'webgpu')!.floorMs).toBeCloseTo(3, 12);
  });

  it('the contract checks floors against the report\'s dtype (absent: float32)', () => {
    const shape = [8192, 128];
    const f16 = caseRows('backward', 'NC', shape, [measured('copy', 1), measured('webgpu', 4, 1e-3)], 'float16');
    const f32 = caseRows('backward', 'NC', shape, [measured('copy', 1), measured('webgpu', 4, 1e-6)]);
    expect(checkReport(report('float16', f16))).toEqual([]);
    expect(checkReport(report('float32', f32))).toEqual([]);
    expect(checkReport(report(undefined, f32))).toEqual([]);
    expect(checkReport(report('float32', f16)).join('\n')).toMatch(/floorBytes ≠ 20 × elements \(float32\)/);
    expect(checkReport(report('float16', f32)).join('\n')).toMatch(/floorBytes ≠ 10 × elements \(float16\)/);
    expect(checkReport(report(undefined, f16)).join('\n')).toMatch(/floorBytes ≠ 20 × elements/);
    expect(checkReport(report('bfloat16' as Report['dtype'], f32))).toContain('dtype must be float32 or float16');
  });
});

describe('bench error limit by dtype', () => {
  it('is one float16 ulp of the bench\'s largest outputs (|v| < 8) for float16', () => {
    // The ulp in [4, 8): the gap between 4 and the next float16.
    expect(fromFloat16Bits(toFloat16Bits(4) + 1) - 4).toBe(ERROR_LIMIT_FLOAT16);
    expect(errorLimit('float16')).toBe(2 ** -8);
    expect(errorLimit('float32')).toBe(ERROR_LIMIT);
    expect(errorLimit()).toBe(ERROR_LIMIT);
  });

  it('passes a float16 row off by half an ulp in [2, 4) and flags an O(1) error or NaN', () => {
    const halfUlp = 2 ** -10; // what rounding y in [2, 4) to float16 costs
    const [, ok] = caseRows('inference', 'NC', [8192, 128], [measured('copy', 1), measured('webgpu', 1, halfUlp)], 'float16');
    expect(isWrong(ok, 'float16')).toBe(false);
    // The float32 limit would not have that margin for the same row.
    expect(halfUlp * 2 > ERROR_LIMIT).toBe(true);
    const [, wrong] = caseRows('inference', 'NC', [8192, 128], [measured('copy', 1), measured('webgpu', 1, 0.5)], 'float16');
    expect(isWrong(wrong, 'float16')).toBe(true);
    const [, nan] = caseRows('inference', 'NC', [8192, 128], [measured('copy', 1), measured('webgpu', 1, NaN)], 'float16');
    expect(isWrong(nan, 'float16')).toBe(true);
  });
});

describe('bench --dtype', () => {
  it('defaults to float32, takes float16, refuses anything else', () => {
    expect(parseArgs([]).dtype).toBe('float32');
    expect(parseArgs(['--dtype', 'float16']).dtype).toBe('float16');
    expect(parseArgs(['--dtype=FLOAT16'], 'node').dtype).toBe('float16');
    expect(() => parseArgs(['--dtype', 'bfloat16'])).toThrow(/unknown --dtype 'bfloat16' \(expected float32 or float16\)/);
    expect(() => parseArgs(['--dtype'])).toThrow(/--dtype needs a value/);
  });
});
