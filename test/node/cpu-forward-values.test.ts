import { afterAll, describe, expect, it } from 'vitest';
import { caseSeed, createRng, seedFromEnv } from '../support/random';
import { reportWorstErrors } from './helpers/expect-close';
import { checkInferenceCase, checkTrainCase, randomCase } from './helpers/run-case';

// Replay a failure with TEST_SEED=<printed seed>.
const seed = seedFromEnv();
console.log(`cpu-forward-values: TEST_SEED=${seed}`);
const rngFor = (name: string) => createRng(caseSeed(seed, name));

describe('CPU forward on hard values', () => {
  // Mean 1e4, std 1: E[x²] − E[x]² in float32 would lose every digit of the variance. The CPU path
  // and the reference both accumulate Σ(x − mean)² in float64, so they agree to float32 storage.
  for (const [layout, shape] of [['NHWC', [8, 16, 16, 3]], ['NCHW', [8, 3, 16, 16]], ['NC', [4099, 3]]] as const) {
    it(`large means 1e4 ± 1, ${layout}: variance relative error ≤ 1e-6`, () => {
      const name = `large mean ${layout}`;
      const { x, options } = randomCase(rngFor(name), {
        shape: [...shape],
        layout,
        means: [1e4, -1e4, 1e4 + 7],
        stds: [1, 1, 0.5],
      });
      const { cpu, ref } = checkTrainCase(x, options, name);
      const relative = Array.from(cpu.variance, (v, c) => Math.abs(v - ref.variance[c]) / ref.variance[c]);
      console.log(`${name}: variance relative errors ${relative.map((r) => r.toExponential(2)).join(', ')}`);
      for (let c = 0; c < 3; c++) {
        expect(relative[c]).toBeLessThanOrEqual(1e-6);
        expect(ref.variance[c]).toBeGreaterThan(0.1); // the data really has a small spread
      }
      checkInferenceCase(x, { ...options, runningMean: cpu.mean, runningVar: cpu.variance }, `inference ${name}`);
    });
  }

  it('negative values with relu: the batch normalizes around 0 and relu zeroes half of it', () => {
    const name = 'negative NCHW';
    const { x, options } = randomCase(rngFor(name), {
      shape: [4, 3, 9, 9],
      layout: 'NCHW',
      activation: 'relu',
      means: [-100, -3, -0.5],
      stds: [10, 1, 0.01],
    });
    const { cpu } = checkTrainCase(x, { ...options, gamma: undefined, beta: undefined }, name);
    expect(Array.from(cpu.mean).every((m) => m < 0)).toBe(true);
    const zeros = cpu.y.filter((v) => v === 0).length;
    expect(zeros / cpu.y.length).toBeGreaterThan(0.35);
    expect(zeros / cpu.y.length).toBeLessThan(0.65);
    checkInferenceCase(x, options, `inference ${name}`);
  });

  it('tiny values (1e-30 scale) with the default eps: statistics and outputs survive', () => {
    const name = 'tiny NHWC';
    const { x, options } = randomCase(rngFor(name), {
      shape: [3, 5, 7, 4],
      layout: 'NHWC',
      means: [0, 1e-30, -3e-30, 0],
      stds: [1e-30, 1e-30, 2e-30, 5e-31],
    });
    // β = 0 keeps y at ~1e-28 instead of hiding it under β; the variance (~1e-60) underflows float32.
    const { cpu } = checkTrainCase(x, { ...options, beta: undefined }, name);
    expect(Array.from(cpu.invStd)).toEqual(Array.from(cpu.invStd, () => Math.fround(1 / Math.sqrt(1e-5))));
    expect(cpu.mean.some((m) => m !== 0)).toBe(true);
    checkInferenceCase(x, options, `inference ${name}`);
  });

  it('tiny values with a tiny eps normalize exactly like the same data at scale 1', () => {
    const name = 'tiny eps NCL';
    const stds = [1, 1, 1, 1, 1];
    const { x, options } = randomCase(rngFor(name), { shape: [6, 5, 13], layout: 'NCL', means: [0, 0, 0, 0, 0], stds });
    const tiny = x.map((v) => v * 1e-30);
    const small = checkTrainCase(tiny, { ...options, eps: 1e-70 }, name).cpu;
    const unit = checkTrainCase(x, { ...options, eps: 1e-10 }, `${name} unscaled`).cpu;
    // var·1e-60 + 1e-70 = 1e-60·(var + 1e-10), so y is the same up to the float32 rounding of the
    // scaled inputs (2^-24·|x|, |x| ≲ 5 std) times |γ| ≲ 2.5, plus the rounding of y itself.
    const err = Math.max(...small.y.map((v, i) => Math.abs(v - unit.y[i]) / (1 + Math.abs(unit.y[i]))));
    expect(err).toBeLessThan(2e-6);
  });

  it('a constant channel has variance 0, invStd 1/sqrt(eps) and y = β', () => {
    const name = 'constant NC';
    const spec = { shape: [33, 3], layout: 'NC' as const, means: [2.5, 0, -7], stds: [0, 1, 0] };
    const { x, options } = randomCase(rngFor(name), spec);
    const { cpu } = checkTrainCase(x, options, name);
    expect([cpu.variance[0], cpu.variance[2]]).toEqual([0, 0]);
    expect(cpu.invStd[0]).toBe(Math.fround(1 / Math.sqrt(1e-5)));
    // x − mean is exactly 0; only the float64 rounding of x·scale + shift can move y off β.
    for (let row = 0; row < 33; row++) expect(Math.abs(cpu.y[row * 3] - options.beta![0])).toBeLessThan(1e-6);
  });
});

afterAll(() => reportWorstErrors(`cpu-forward-values (TEST_SEED=${seed})`));
