import { describe, expect, it } from 'vitest';
import { createBatchNorm } from '../../src/index';
import type { Op } from '../../bench/lib/types';
import type { Layout } from '../../src/types';
import { computeReference, EPS, makeCase, streamInto } from '../../bench/page/case-data';
import { StreamedCheck } from '../../bench/page/streamed-reference';

/*
 * The check of benchmark cases too large for host arrays regenerates the inputs from their
 * sequence and computes float64 statistics from them. Here it is held against the library's CPU
 * path on cases small enough for both: same inputs, same statistics, same outputs, and a wrong
 * output is caught.
 */

const cases: { op: Op; layout: Layout; shape: number[] }[] = [
  { op: 'forward-train', layout: 'NC', shape: [300, 12] },
  { op: 'forward-train', layout: 'NCHW', shape: [3, 5, 7, 9] },
  { op: 'inference', layout: 'NHWC', shape: [4, 6, 5, 8] },
  { op: 'backward', layout: 'NC', shape: [257, 16] },
  { op: 'backward', layout: 'NCHW', shape: [3, 4, 11, 13] },
];

function feedInChunks(check: StreamedCheck, values: Float32Array, chunk: number): void {
  for (let first = 0; first < values.length; first += chunk) check.feed(values.subarray(first, first + chunk));
}

describe('bench: streamed reference of large cases', () => {
  it('regenerates any part of an input from its sequence', () => {
    const data = makeCase({ op: 'backward', layout: 'NC', shape: [50, 8], seed: 7 });
    const part = streamInto(7, data.streams.dy!, 123, new Float32Array(45));
    expect(part).toEqual(data.dy!.subarray(123, 168));
    const bare = makeCase({ op: 'backward', layout: 'NC', shape: [50, 8], seed: 7 }, false);
    expect(bare.x).toBeUndefined();
    expect(bare.dy).toBeUndefined();
    expect(bare.gamma).toEqual(data.gamma);
    expect(bare.runningVar).toEqual(data.runningVar);
  });

  for (const [i, { op, layout, shape }] of cases.entries()) {
    it(`${op} ${layout} [${shape}] agrees with the CPU path and catches a wrong output`, async () => {
      const spec = { op, layout, shape, seed: 11 + i };
      const data = makeCase(spec);
      await computeReference(data, await createBatchNorm({ backend: 'cpu' }));
      const bare = makeCase(spec, false);
      await computeReference(bare, await createBatchNorm({ backend: 'cpu' }));
      const stats = bare.streamed!;
      expect(stats).toBeDefined();
      const close = (actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number) => {
        for (let c = 0; c < expected.length; c++) expect(Math.abs(actual[c] - expected[c])).toBeLessThanOrEqual(tol * (1 + Math.abs(expected[c])));
      };
      if (op === 'forward-train') {
        close(stats.mean, data.reference.mean, 1e-6);
        close(stats.variance, data.reference.variance, 1e-6);
      }
      if (op === 'backward') {
        close(stats.dgamma!, data.reference.dgamma, 1e-5);
        close(stats.dbeta!, data.reference.dbeta, 1e-5);
      }
      const main = Object.values(data.reference)[0];
      const good = new StreamedCheck(bare, stats, EPS);
      feedInChunks(good, main, 97);
      expect(good.maxAbsErr).toBeLessThan(1e-5);

      const partial = new StreamedCheck(bare, stats, EPS);
      partial.feed(main.subarray(0, main.length - 1));
      expect(partial.maxAbsErr).toBe(Number.POSITIVE_INFINITY);

      const wrong = main.slice();
      wrong[Math.floor(wrong.length * 0.77)] += 0.01;
      const bad = new StreamedCheck(bare, stats, EPS);
      feedInChunks(bad, wrong, 64);
      expect(bad.maxAbsErr).toBeGreaterThan(0.009);

      const nan = main.slice();
      nan[nan.length - 1] = Number.NaN;
      const withNaN = new StreamedCheck(bare, stats, EPS);
      withNaN.feed(nan);
      expect(withNaN.maxAbsErr).toBe(Number.POSITIVE_INFINITY);
    });
  }

  it('catches outputs shifted by one channel', async () => {
    const spec = { op: 'forward-train' as Op, layout: 'NCHW' as Layout, shape: [2, 3, 4, 4], seed: 3 };
    const data = makeCase(spec);
    await computeReference(data, await createBatchNorm({ backend: 'cpu' }));
    const bare = makeCase(spec, false);
    await computeReference(bare, await createBatchNorm({ backend: 'cpu' }));
    const y = data.reference.y;
    const shifted = new Float32Array(y.length);
    shifted.set(y.subarray(16), 0);
    const check = new StreamedCheck(bare, bare.streamed!, EPS);
    check.feed(shifted);
    expect(check.maxAbsErr).toBeGreaterThan(0.1);
  });
});
