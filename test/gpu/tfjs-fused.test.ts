import { expect, it } from 'vitest';
import { describeGpu, useHarness } from '../support/browser';
import { seedFromEnv } from '../support/random';
import type { PortCheck, ReferenceCheck } from './page/tfjs-fused-case';

const seed = seedFromEnv();
console.log(`TF.js FusedBatchNorm GPU tests: TEST_SEED=${seed}`);

/** TF.js's own expectArraysClose rule (test_util.ts): |a − e| ≤ ε, ε = 1e-3 on float32 backends; two non-finite values match. */
const TFJS_TEST_EPSILON = 1e-3;

function expectArraysClose(c: PortCheck, context: string): void {
  expect(c.actual.length, `${context}: length`).toBe(c.expected.length);
  c.actual.forEach((a, i) => {
    const e = c.expected[i];
    if (!Number.isFinite(a) && !Number.isFinite(e)) return;
    expect(Math.abs(a - e), `${context}[${i}]: ${a} vs ${e}`).toBeLessThanOrEqual(TFJS_TEST_EPSILON);
  });
  if (c.expectedShape) expect(c.shape, `${context}: shape`).toEqual(c.expectedShape);
}

/*
 * Float64 bound. u = 2^-24. Forward: y = fma(x, S, T), S = γ · invStd (invStd = 1 / sqrt(v + ε):
 * WGSL's sqrt and division are within a few ulp, so S is within ~8u relatively), T = β − mean · S.
 * Hence |y − y64| ≤ 16u · (|x·S| + |mean·S| + |β| + |y|), the magnitude each element reports. The
 * gradients: dx = dy · γ · invStd (a few roundings: 17u · |dx|); a per-channel sum of n terms in
 * any order is within (n − 1)u · Σ|terms| of the exact sum, and the products around it add a few u:
 * (n + 16)u · Σ|terms| (the magnitude) bounds dmean, dvariance, doffset and dscale.
 */
const U = 2 ** -24;
function withinReference(c: ReferenceCheck, context: string): void {
  expect(c.actual.length, `${context}: length`).toBe(c.reference.length);
  c.actual.forEach((a, i) => {
    const bound = (c.terms[i] + 16) * U * c.magnitude[i];
    expect(Math.abs(a - c.reference[i]), `${context}[${i}]: ${a} vs ${c.reference[i]} (bound ${bound})`).toBeLessThanOrEqual(bound);
  });
}

/** Port cases whose parameters hold a value per element: TF.js's stock kernel and gradient serve them. */
const STOCK_CASES = /same shapes|are all 3D|batchNorm2D: gradient with clones$/;

/** The adapter's convention (tfjs.test.ts): gradients within 1e-3 of max |reference|. */
const GRAD_RTOL = 1e-3;

describeGpu('TF.js FusedBatchNorm served by our kernels (registerFusedBatchNorm)', () => {
  const harness = useHarness();

  // batchnorm_test.ts holds 36 tests: 26 run the op (here), 10 check its argument validation.
  it("passes tfjs-core's batchnorm_test.ts with our kernel registered, and our kernel ran", async () => {
    const r = await harness().call('tfjsFusedPort');
    expect(r.results).toHaveLength(26);
    for (const c of r.results) {
      expect(c.checks.length, c.name).toBeGreaterThan(0);
      for (const check of c.checks) expectArraysClose(check, `${c.name} / ${check.label}`);
      const gradients = c.checks.some((k) => k.label.startsWith('grad'));
      if (STOCK_CASES.test(c.name)) {
        expect(c.engine, c.name).toEqual({ inference: 0, backward: 0 });
        expect(c.usage.ours, c.name).toBe(0);
        expect(c.usage.stock, c.name).toBeGreaterThan(0);
      } else {
        expect(c.engine.inference, `${c.name}: our inference kernel ran`).toBeGreaterThan(0);
        expect(c.usage.stock, `${c.name}: ${c.usage.lastFallback}`).toBe(0);
        if (gradients) {
          expect(c.engine.backward, `${c.name}: our backward kernel ran`).toBeGreaterThan(0);
          expect(c.usage.stockGradient, `${c.name}: ${c.usage.lastFallback}`).toBe(0);
        }
      }
    }
    // TF.js's op validation is untouched: the ten 'throws …' tests, with their messages.
    const expected = [
      /Argument 'x' passed to 'batchNorm' must be a Tensor/,
      /Argument 'mean' passed to 'batchNorm' must be a Tensor/,
      /Argument 'variance' passed to 'batchNorm' must be a Tensor/,
      /Argument 'scale' passed to 'batchNorm' must be a Tensor/,
      /Argument 'offset' passed to 'batchNorm' must be a Tensor/,
      /Argument 'x' passed to 'batchNorm' must be numeric/,
      /Argument 'mean' passed to 'batchNorm' must be numeric/,
      /'variance' passed to 'batchNorm' must be numeric/,
      /'scale' passed to 'batchNorm' must be numeric/,
      /'offset' passed to 'batchNorm' must be numeric/,
    ];
    expect(r.thrown).toHaveLength(expected.length);
    r.thrown.forEach((message, i) => expect(message).toMatch(expected[i]));
    expect(r.leakedTensors).toBe(0);
  });

  it('matches float64 on 11 seeded shapes (rank-1 and broadcast parameters), and leaves other shapes to the stock kernel', async () => {
    const r = await harness().call('tfjsFusedReference', { seed });
    expect(r.results).toHaveLength(11);
    expect(r.results.filter((c) => c.grads)).toHaveLength(8);
    for (const c of r.results) {
      expect(c.checks.map((k) => k.label)).toEqual(c.grads ? ['y', 'dx', 'dmean', 'dvariance', 'doffset', 'dscale'] : ['y']);
      for (const check of c.checks) withinReference(check, `${c.name} / ${check.label}`);
      expect(c.engine.inference, `${c.name}: our inference kernel ran`).toBeGreaterThan(0);
      expect(c.usage.stock, `${c.name}: ${c.usage.lastFallback}`).toBe(0);
      if (c.grads) {
        expect(c.engine.backward, `${c.name}: our backward kernel ran`).toBe(1);
        expect(c.usage.oursGradient).toBe(1);
        expect(c.usage.stockGradient).toBe(0);
      }
    }
    expect(r.fallbacks.map((f) => f.name)).toHaveLength(4);
    for (const f of r.fallbacks) {
      expect(f.oursRan, f.name).toBe(false);
      expect(f.stockKernelRan, f.name).toBe(true);
      expect(f.reason, f.name).toBeTruthy();
      expect(f.diff, `${f.name}: same values as with TF.js's kernel alone`).toBe(0);
    }
    expect(r.leakedTensors).toBe(0);
  });

  it.each([[[32, 6]], [[4, 3, 3, 5]], [[3, 130]]])('trains through tf.moments + tf.batchNorm, x %j: gradients of x, scale, offset as stock TF.js and float64', async (shape) => {
    const r = await harness().call('tfjsFusedTraining', { seed, shape });
    // Forward twice (y, and inside tf.grads), backward once.
    expect(r.engine).toEqual({ inference: 2, backward: 1 });
    expect(r.usage).toMatchObject({ ours: 2, stock: 0, oursGradient: 1, stockGradient: 0 });
    for (const [k, rel] of Object.entries(r.stockRelDiff)) expect(rel, `${k} vs stock`).toBeLessThanOrEqual(GRAD_RTOL);
    for (const [k, rel] of Object.entries(r.referenceRelDiff)) expect(rel, `${k} vs float64`).toBeLessThanOrEqual(GRAD_RTOL);
    expect(Object.keys(r.stockRelDiff)).toEqual(['y', 'dx', 'dgamma', 'dbeta']);
    expect(r.leakedTensors).toBe(0);
  });

  it("hands other backends to TF.js's own gradient, and unregister puts TF.js's kernel and gradient back", async () => {
    const r = await harness().call('tfjsFusedDelegation');
    expect(r.cpuIdentical).toBe(true);
    expect(r.cpuEngine).toEqual({ inference: 0, backward: 0 });
    expect(r.cpuUsage).toMatchObject({ ours: 0, oursGradient: 0, stockGradient: 1 });
    expect(r.webgpuEngineRegistered.inference).toBeGreaterThan(0);
    expect(r.webgpuEngineRegistered.backward).toBe(1);
    expect(r.webgpuEngineAfter).toEqual({ inference: 0, backward: 0 });
    expect(r.kernelRestored).toBe(true);
    expect(r.gradientRestored).toBe(true);
  });

  it('falls back to the stock kernel, with one warning, on a WebGPU backend without the command encoder field it records into', async () => {
    const r = await harness().call('tfjsFusedFeatureCheck');
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatch(/commandEncoder.*stock FusedBatchNorm/);
    expect(r.stockCalls).toBe(2);
    expect(r.oursCalls).toBe(0);
    expect(r.engineInference).toBe(0);
    expect(r.diff).toBeLessThanOrEqual(TFJS_TEST_EPSILON);
  });
});
