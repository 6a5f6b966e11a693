import { describe, expect, it } from 'vitest';
import { cpuForwardTrain } from '../../src/cpu/forward';
import { resolveOptions } from '../../src/options';
import type { Convention } from '../../src/types';
import { checkClose } from '../support/compare';

/*
 * Five training steps on [4, 2] batches (NC) whose statistics are exact by hand, carrying the running
 * statistics from one step to the next as a training loop does. Starting values are those of both
 * frameworks: running mean 0, running variance 1.
 */
const batches: { x: number[]; mean: [number, number]; variance: [number, number] }[] = [
  // [1, 2, 3, 4]: mean 2.5, (2.25 + 0.25 + 0.25 + 2.25)/4 = 1.25; [-2, 0, 2, 4]: mean 1, 20/4 = 5
  { x: [1, -2, 2, 0, 3, 2, 4, 4], mean: [2.5, 1], variance: [1.25, 5] },
  // [0, 0, 0, 8]: mean 2, (4 + 4 + 4 + 36)/4 = 12; [10, 10, 10, 10]: mean 10, variance 0
  { x: [0, 10, 0, 10, 0, 10, 8, 10], mean: [2, 10], variance: [12, 0] },
  // [-1, -3, -5, -7]: mean -4, (9 + 1 + 1 + 9)/4 = 5; [0.5, 1.5, 0.5, 1.5]: mean 1, 0.25
  { x: [-1, 0.5, -3, 1.5, -5, 0.5, -7, 1.5], mean: [-4, 1], variance: [5, 0.25] },
  // [100, 101, 99, 100]: mean 100, 2/4 = 0.5; [-8, 8, -8, 8]: mean 0, 64
  { x: [100, -8, 101, 8, 99, -8, 100, 8], mean: [100, 0], variance: [0.5, 64] },
  // [0.25, 0.75, 0.25, 0.75]: mean 0.5, 0.0625; [3, 6, 9, 6]: mean 6, (9 + 0 + 9 + 0)/4 = 4.5
  { x: [0.25, 3, 0.75, 6, 0.25, 9, 0.75, 6], mean: [0.5, 6], variance: [0.0625, 4.5] },
];

// Running statistics after each step, computed in exact rational arithmetic and rounded to float32
// after every step (the stored state). PyTorch, m = 0.1, M = 4: rm ← 0.9·rm + 0.1·mean,
// rv ← 0.9·rv + 0.1·var·4/3; e.g. step 1: rv₀ = 0.9 + 0.1·1.25·4/3 = 1.0666…
// Keras, m = 0.99: rm ← 0.99·rm + 0.01·mean, rv ← 0.99·rv + 0.01·var; e.g. step 1: rv₁ = 0.99 + 0.05 = 1.04.
// ONNX, m = 0.9: rm ← 0.9·rm + 0.1·mean, rv ← 0.9·rv + 0.1·var (biased); e.g. step 1: rv₀ = 0.9 + 0.125 = 1.025.
const expected: Record<Convention, { runningMean: number[]; runningVar: number[] }[]> = {
  pytorch: [
    { runningMean: [0.25, 0.1], runningVar: [1.0666667222976685, 1.5666667222976685] },
    { runningMean: [0.42500001192092896, 1.090000033378601], runningVar: [2.559999942779541, 1.4100000858306885] },
    { runningMean: [-0.01749998889863491, 1.0810000896453857], runningVar: [2.9706666469573975, 1.3023333549499512] },
    { runningMean: [9.98425006866455, 0.9729000926017761], runningVar: [2.7402665615081787, 9.705432891845703] },
    { runningMean: [9.0358247756958, 1.4756101369857788], runningVar: [2.4745731353759766, 9.33488941192627] },
  ],
  keras: [
    { runningMean: [0.02500000037252903, 0.009999999776482582], runningVar: [1.002500057220459, 1.0399999618530273] },
    { runningMean: [0.04475000128149986, 0.10989999771118164], runningVar: [1.112475037574768, 1.029599905014038] },
    { runningMean: [0.00430250121280551, 0.11880099773406982], runningVar: [1.1513502597808838, 1.021803855895996] },
    { runningMean: [1.004259467124939, 0.11761298775672913], runningVar: [1.1448367834091187, 1.6515858173370361] },
    { runningMean: [0.9992168545722961, 0.17643685638904572], runningVar: [1.1340134143829346, 1.680069923400879] },
  ],
  onnx: [
    { runningMean: [0.25, 0.10000000149011612], runningVar: [1.024999976158142, 1.399999976158142] },
    { runningMean: [0.42500001192092896, 1.090000033378601], runningVar: [2.122499942779541, 1.2599999904632568] },
    { runningMean: [-0.01749998889863491, 1.0810000896453857], runningVar: [2.410249948501587, 1.159000039100647] },
    { runningMean: [9.98425006866455, 0.9729000926017761], runningVar: [2.2192249298095703, 7.4430999755859375] },
    { runningMean: [9.0358247756958, 1.4756101369857788], runningVar: [2.0035524368286133, 7.148789882659912] },
  ],
};

// Each step rounds to float32 and the next starts from it: computing in float64 instead of exact
// rationals can round one ulp (2^-24 relative) differently, and that carries forward damped by keep.
const tol = { atol: 0, rtol: 2 ** -22 };

describe('running statistics over five training steps', () => {
  for (const convention of ['pytorch', 'keras', 'onnx'] as const) {
    it(`${convention}: matches the hand-computed sequence`, () => {
      let runningMean: Float32Array = new Float32Array([0, 0]);
      let runningVar: Float32Array = new Float32Array([1, 1]);
      batches.forEach((batch, step) => {
        const o = resolveOptions({ shape: [4, 2], layout: 'NC', convention, runningMean, runningVar }, 'train');
        const out = cpuForwardTrain(new Float32Array(batch.x), o);
        expect(Array.from(out.mean)).toEqual(batch.mean);
        expect(Array.from(out.variance)).toEqual(batch.variance);
        const want = expected[convention][step];
        const where = `${convention} step ${step + 1}`;
        for (const error of [
          checkClose(out.runningMean!, want.runningMean, tol, `${where} runningMean`),
          checkClose(out.runningVar!, want.runningVar, tol, `${where} runningVar`),
        ]) {
          if (error) throw error;
        }
        runningMean = out.runningMean!;
        runningVar = out.runningVar!;
      });
    });
  }
});
