import { describe, expect, it } from 'vitest';
import { checkClose, maxErrors } from '../support/compare';

const tol = { atol: 1e-6, rtol: 1e-3 };

describe('checkClose', () => {
  it('passes inside atol + rtol·|expected| and fails just outside', () => {
    expect(checkClose([1000.5], [1000], tol)).toBeUndefined(); // allowed 1.000001
    expect(checkClose([1001.1], [1000], tol)).toBeInstanceOf(Error);
    expect(checkClose([5e-7, -5e-7], [0, 0], tol)).toBeUndefined();
    expect(checkClose([2e-6], [0], tol)).toBeInstanceOf(Error);
  });

  it('matches NaN only with NaN and an infinity only with the same infinity', () => {
    expect(checkClose([NaN, Infinity, -Infinity], [NaN, Infinity, -Infinity], tol)).toBeUndefined();
    const mismatches = [
      [0, NaN],
      [NaN, 0],
      [-Infinity, Infinity],
      [1e300, Infinity],
      [Infinity, 1e300],
      [NaN, Infinity],
    ];
    for (const [a, b] of mismatches) {
      expect(checkClose([a], [b], { atol: Infinity, rtol: 0 }), `${a} vs ${b}`).toBeInstanceOf(Error);
    }
  });

  it('takes a per-element tolerance function', () => {
    const perElement = (i: number) => (i === 1 ? 0.5 : 0);
    expect(checkClose([1, 2.4, 3], [1, 2, 3], perElement)).toBeUndefined();
    expect(checkClose([1, 2.4, 3.1], [1, 2, 3], perElement)).toBeInstanceOf(Error);
  });

  it('reports the failure count, the worst index and a table around it', () => {
    const actual = Array.from({ length: 20 }, (_, i) => i);
    actual[4] += 0.01;
    actual[12] += 1;
    const message = checkClose(actual, Array.from({ length: 20 }, (_, i) => i), tol, 'y')?.message ?? '';
    expect(message).toMatch(/^y: 2 of 20 out of tolerance, worst at index 12/);
    const rows = message.split('\n').slice(2);
    expect(rows.map((r) => Number(r.trim().split(/\s+/)[0]))).toEqual([9, 10, 11, 12, 13, 14, 15]);
    expect(rows[3]).toMatch(/<-$/);
  });

  it('rejects a length mismatch', () => {
    expect(checkClose([1, 2], [1, 2, 3], tol)?.message).toMatch(/length 2, expected 3/);
  });
});

describe('maxErrors', () => {
  it('finds the largest absolute and relative differences', () => {
    expect(maxErrors([1, 2.5, 0.001], [1, 2, 0.002])).toEqual({ maxAbs: 0.5, maxRel: 0.5, worstIndex: 1 });
    expect(maxErrors([1, 2], [1, 2])).toEqual({ maxAbs: 0, maxRel: 0, worstIndex: -1 });
    expect(maxErrors([1, 0], [1, NaN])).toMatchObject({ maxAbs: Infinity, worstIndex: 1 });
  });
});
