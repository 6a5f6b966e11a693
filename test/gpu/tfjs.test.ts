import { expect, it } from 'vitest';
import { adapterInfo, describeGpu, useHarness } from '../support/browser';
import { isCI } from '../setup/gpu-context';
import { seedFromEnv } from '../support/random';
import { defaultTuning, softwareAdapterTuning } from '../../src/gpu/tuning';

const seed = seedFromEnv();
console.log(`TF.js adapter GPU tests: TEST_SEED=${seed}`);

/*
 * Tolerances. Both sides are float32 implementations of the same formulas: outputs of order 1 agree
 * to a few ulp (we see ~4e-7), gradients to ~1e-6 relative. The bounds are 1e-4 absolute
 * for outputs and 1e-3 relative (max |ours − stock| / max |stock| per tensor) for gradients; the
 * moving statistics, one blend of values of order 1, get 1e-5. The model case's batch keeps every
 * ReLU input behind a batch norm clear of zero (wellPosedBatch in page/tfjs-case.ts): one that
 * falls on the other side of its ReLU changes gradients by far more than these bounds.
 */
const OUTPUT_ATOL = 1e-4;
const GRAD_RTOL = 1e-3;
const MOVING_ATOL = 1e-5;

describeGpu('TensorFlow.js adapter (webgpu-batchnorm/tfjs)', () => {
  const harness = useHarness();

  // webgpu: our kernels on TF.js's device; cpu: the library's CPU path as TF.js kernels; webgl
  // (SwiftShader's GL here): no kernels of ours, the same formulas with stock ops.
  it.for([
    ['webgpu', true],
    ['cpu', true],
    ['webgl', false],
  ] as const)('demo model on %s, identical weights: same forward, gradients, moving statistics as the stock layer', async ([backend, ourKernels], ctx) => {
    const report = await harness().call('tfjsModelParity', { seed, backend });
    if ('unavailable' in report) {
      // Under CI every backend must run (Debian's Chromium has them all); elsewhere a browser
      // without one skips that case loudly.
      if (isCI()) throw new Error(`${report.unavailable} is not available in this browser`);
      console.warn(`SKIPPED: ${report.unavailable} is not available in this browser`);
      ctx.skip();
      return;
    }
    const r = report;
    expect(r.backend).toBe(backend);
    expect(r.ourKernels).toBe(ourKernels);
    expect(r.trainOutputDiff).toBeLessThanOrEqual(OUTPUT_ATOL);
    expect(r.inferenceOutputDiff).toBeLessThanOrEqual(OUTPUT_ATOL);
    expect(r.movingStatsDiff).toBeLessThanOrEqual(MOVING_ATOL);
    expect(Object.keys(r.gradRelDiff)).toHaveLength(10);
    for (const [name, rel] of Object.entries(r.gradRelDiff)) expect(rel, name).toBeLessThanOrEqual(GRAD_RTOL);
  });

  // x comes from a TF.js op queued just before ours and y goes into one queued just after, all in
  // TF.js's unsubmitted encoder: a wrong order would read stale x or hand on an unwritten y.
  it.each([
    ['webgpu', [32, 128], -1, false],
    ['webgpu', [4, 6, 5, 8], -1, true],
    ['webgpu', [4, 3, 5, 7], 1, true],
    ['webgpu', [6, 5, 7], 1, false],
    ['webgpu', [33, 3], 1, false],
    ['cpu', [4, 3, 5, 7], 1, true],
  ] as const)('batchNormTrain on %s, shape %j axis %i (relu %s) matches the stock formulas, in order with TF.js work', async (backend, shape, axis, relu) => {
    const r = await harness().call('tfjsOpParity', { seed, backend, shape: [...shape], axis, relu, center: 3 });
    expect(r.backend).toBe(backend);
    expect(r.yDiff).toBeLessThanOrEqual(OUTPUT_ATOL);
    expect(r.movingMeanDiff).toBeLessThanOrEqual(MOVING_ATOL);
    expect(r.movingVarianceDiff).toBeLessThanOrEqual(MOVING_ATOL);
    expect(r.dxRel).toBeLessThanOrEqual(GRAD_RTOL);
    expect(r.dgammaRel).toBeLessThanOrEqual(GRAD_RTOL);
    expect(r.dbetaRel).toBeLessThanOrEqual(GRAD_RTOL);
    expect(r.leakedTensors).toBe(0);
  });

  it('allocates no GPU buffer, uploads, submits or reads back nothing in steady-state training steps', async () => {
    const r = await harness().call('tfjsSteadyState', { seed, warmup: 3, steps: 6 });
    console.log(
      `TF.js steady state: per step ${r.createBufferPerStepOurs} createBuffer calls with our layer, ` +
        `${r.createBufferPerStepStock} with the stock one (all TF.js's own); in our kernels: ${r.createBufferInKernels}; ` +
        `bind groups our kernels created in ${r.steps} steps: ${r.bindGroupsInKernels}`,
    );
    expect(r.kernelCalls).toBe(2 * 2 * r.steps); // 2 layers × (forward + backward) per step
    expect(r.createBufferInKernels).toBe(0);
    expect(r.writeBufferInKernels).toBe(0);
    expect(r.submitInKernels).toBe(0);
    expect(r.mapAsyncInKernels).toBe(0);
    expect(r.engineBuffersAfter).toBe(r.engineBuffersBefore);
    expect(r.tfjsBytesAfter).toBe(r.tfjsBytesBefore);
    expect(r.tensorsAfter).toBe(r.tensorsBefore);
    // The engine built on TF.js's device runs with its adapter's tuning, as createBatchNorm's would:
    // the software one on the adapter the global setup found (SwiftShader here).
    const adapter = adapterInfo();
    const software = /swiftshader|lavapipe|llvmpipe|warp/i.test(adapter.architecture);
    expect(r.adapter.architecture).toBe(adapter.architecture);
    expect(r.tuning).toEqual({ ...defaultTuning, ...(software ? softwareAdapterTuning : {}) });
  });

  it('is registered for serialization, round-trips, and loads models saved with the stock layer', async () => {
    const r = await harness().call('tfjsSerialization', { seed });
    expect(r.configMatches).toBe(true);
    expect(r.roundTripClass).toEqual(['WebGpuBatchNormalization', 'WebGpuBatchNormalization']);
    expect(r.roundTripWeightsDiff).toBe(0);
    expect(r.roundTripPredictDiff).toBe(0);
    expect(r.fromStockClass).toEqual(['WebGpuBatchNormalization', 'WebGpuBatchNormalization']);
    expect(r.fromStockNamesKept).toBe(true);
    expect(r.fromStockPredictDiff).toBeLessThanOrEqual(OUTPUT_ATOL);
  });
});
