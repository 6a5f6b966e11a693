import { afterAll, describe, expect, it } from 'vitest';
import { resolveBackwardOptions } from '../../src/backward-options';
import { cpuBackward } from '../../src/cpu/backward';
import { cpuForwardInference, cpuForwardTrain } from '../../src/cpu/forward';
import { resolveOptions } from '../../src/options';
import type { Activation, BackwardMode, BatchNormOptions, Layout } from '../../src/types';
import { backwardTolerances } from '../support/backward-tolerances';
import { caseSeed, createRng, normals, seedFromEnv, type Rng } from '../support/random';
import { referenceForwardInference, referenceForwardTrain, type ReferenceParams } from '../support/reference';
import { referenceBackward } from '../support/reference-backward';
import { cpuErrorModel, referenceParamsOf } from './helpers/backward-case';
import { expectClose, reportWorstErrors } from './helpers/expect-close';
import { randomCase } from './helpers/run-case';

// Replay a failure with TEST_SEED=<printed seed>.
const seed = seedFromEnv();
console.log(`cpu-backward-gradcheck: TEST_SEED=${seed}`);

/*
 * Finite-difference check of the CPU backward against the definition of the gradient, sharing no
 * formula with it: loss L = Σ w·y with random weights w (so dL/dy = w), y the float64 reference
 * forward (batch statistics in training, running statistics in eval), and central differences
 *   ∂L/∂v ≈ (L(v + h) − L(v − h)) / 2h
 * for every x, γ and β of a small tensor. In float64 with h = 1e-6 (times the value's scale) the
 * truncation error is O(h²) ≈ 1e-12 and the cancellation error ≈ 1e-16·|L|/h ≈ 1e-10·|L|, both far
 * below the float32 errors of the CPU path, so the CPU tolerance model of the matrix test applies,
 * with 1e-7 of the terms and the cancellation error added for the differences themselves.
 * relu has kinks: a draw with a pre-activation within 1e-4 of 0 (where a step of h could cross a kink)
 * is rejected and drawn again.
 */
const H = 1e-6;
const FD_SLACK = 1e-7;

function loss(xv: ArrayLike<number>, w: Float32Array, p: ReferenceParams, mode: BackwardMode): number {
  const y = mode === 'train' ? referenceForwardTrain(xv, p).y : referenceForwardInference(xv, p);
  let sum = 0;
  for (let i = 0; i < y.length; i++) sum += w[i] * y[i];
  return sum;
}

/** Central difference of `f` in coordinate i of `values`, step h · max(1, |v|). */
function centralDifference(values: ArrayLike<number>, i: number, f: (v: Float64Array) => number): number {
  const v = Float64Array.from(values);
  const h = H * Math.max(1, Math.abs(v[i]));
  v[i] = values[i] + h;
  const up = f(v);
  v[i] = values[i] - h;
  const down = f(v);
  return (up - down) / (2 * h);
}

function drawCase(rng: Rng, shape: number[], layout: Layout, activation: Activation, mode: BackwardMode) {
  for (;;) {
    const { x, options } = randomCase(rng, { shape, layout, activation });
    if (activation === 'none') return { x, options };
    // Away from relu's kink: no pre-activation within 1e-4 of 0, and γ away from 0. At least a
    // quarter of the outputs must pass the relu, or the gradients would all be zero (vacuous).
    const linear = { ...referenceParamsOf(options), activation: 'none' as const };
    const pre = mode === 'train' ? referenceForwardTrain(x, linear).y : referenceForwardInference(x, linear);
    const passing = pre.filter((v) => v > 0).length;
    if (pre.every((v) => Math.abs(v) >= 1e-4) && options.gamma!.every((g) => Math.abs(g) >= 0.1) && passing >= pre.length / 4) return { x, options };
  }
}

const cases: { shape: number[]; layout: Layout }[] = [
  { shape: [5, 3], layout: 'NC' },
  { shape: [2, 3, 4], layout: 'NCL' },
  { shape: [3, 2, 3], layout: 'NLC' },
  { shape: [2, 2, 3, 2], layout: 'NCHW' },
  { shape: [2, 3, 2, 3], layout: 'NHWC' },
  { shape: [1, 2, 2, 2, 3], layout: 'NCDHW' },
  { shape: [2, 2, 1, 3, 2], layout: 'NDHWC' },
];

describe('CPU backward vs central finite differences of the float64 forward', () => {
  for (const { shape, layout } of cases) {
    for (const mode of ['train', 'eval'] as const) {
      for (const activation of ['none', 'relu'] as const) {
        const name = `${layout} [${shape}] ${mode} ${activation}`;
        it(name, () => {
          const rng = createRng(caseSeed(seed, `gradcheck ${name}`));
          const { x, options } = drawCase(rng, shape, layout, activation, mode);
          const w = normals(rng, x.length, 0, 1);
          const p = referenceParamsOf(options);
          const saved = mode === 'train' ? cpuForwardTrain(x, resolveOptions(options, 'train')) : undefined;
          const y = saved ? saved.y : cpuForwardInference(x, resolveOptions(options, 'inference'));
          const cpu = cpuBackward(w, x, resolveBackwardOptions({ ...options, mode }), { ...saved, y });

          const withParams = (change: Partial<BatchNormOptions>) => ({ ...p, ...change }) as ReferenceParams;
          const dx = Float64Array.from(x, (_, i) => centralDifference(x, i, (v) => loss(v, w, p, mode)));
          const dgamma = Float64Array.from(options.gamma!, (_, c) => centralDifference(options.gamma!, c, (g) => loss(x, w, withParams({ gamma: g as never }), mode)));
          const dbeta = Float64Array.from(options.beta!, (_, c) => centralDifference(options.beta!, c, (b) => loss(x, w, withParams({ beta: b as never }), mode)));

          // The analytic reference fixes the magnitudes of the terms; the differences are checked against
          // the CPU path with the CPU's error model plus the differences' own error.
          const ref = referenceBackward(x, w, p, { mode, y });
          const tol = backwardTolerances(x, w, p, ref, mode, cpuErrorModel(ref, mode));
          const fd = backwardTolerances(x, w, p, ref, mode, { terms: FD_SLACK / 2 ** -24 });
          // Cancellation in L(v + h) − L(v − h): a few float64 ulps of Σ|w·y|, divided by 2h.
          const cancellation = (8 * 2 ** -52 * ref.y.reduce((sum, v, i) => sum + Math.abs(w[i] * v), 0)) / H;
          expectClose(cpu.dx, dx, (i) => tol.dx(i) + fd.dx(i) + cancellation, 'dx (fd)', name);
          expectClose(cpu.dgamma, dgamma, (c) => tol.dgamma(c) + fd.dgamma(c) + cancellation, 'dgamma (fd)', name);
          expectClose(cpu.dbeta, dbeta, (c) => tol.dbeta(c) + fd.dbeta(c) + cancellation, 'dbeta (fd)', name);
          // Not vacuous: the gradients are of order one.
          expect(Math.max(...Array.from(dx, Math.abs))).toBeGreaterThan(0.05);
        });
      }
    }
  }
});

afterAll(() => reportWorstErrors(`cpu-backward-gradcheck (TEST_SEED=${seed})`));
