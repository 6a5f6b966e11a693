import { afterAll, beforeAll, expect, it } from 'vitest';
import type { BackwardCase } from './page/backward-case';
import type { ForwardCase } from './page/forward-case';
import { describeGpu, openHarness, type HarnessPage } from '../support/browser';
import { seedFromEnv } from '../support/random';

/*
 * What frameworks' own test data needs beyond the PyTorch and Keras forms, on the GPU, through both
 * APIs, against the float64 reference with the forward and backward suites' tolerances: the ONNX
 * convention (biased running variance, momentum 0.9 weighing the old value), eps = 0, a 1-D input
 * [N] (one channel, as ONNX allows), and arrays of numbers in place of Float32Arrays on host-array
 * calls. (eps = 0 on a channel of zero variance, which divides by zero: test/gpu/non-finite.test.ts.)
 */
const seed = seedFromEnv();
console.log(`input forms GPU tests: TEST_SEED=${seed}`);

const threeKernels = { oneDispatch: false };

const forwardCases: Omit<ForwardCase, 'seed'>[] = [
  // ONNX convention, defaults (eps 1e-5, momentum 0.9), one dispatch and three kernels.
  { name: 'onnx: NCHW [3, 5, 7, 6] train relu', shape: [3, 5, 7, 6], layout: 'NCHW', pass: 'train', activation: 'relu', convention: 'onnx' },
  { name: 'onnx: NHWC [4, 5, 3, 8] train', shape: [4, 5, 3, 8], layout: 'NHWC', pass: 'train', activation: 'none', convention: 'onnx' },
  { name: 'onnx: NC [333, 7] train, three kernels', shape: [333, 7], layout: 'NC', pass: 'train', activation: 'none', convention: 'onnx', tuning: threeKernels },
  { name: 'onnx: NCL [4, 3, 101] inference relu', shape: [4, 3, 101], layout: 'NCL', pass: 'inference', activation: 'relu', convention: 'onnx' },
  { name: 'onnx: NC [9, 4] momentum 0.5', shape: [9, 4], layout: 'NC', pass: 'train', activation: 'none', convention: 'onnx', momentum: 0.5 },
  // eps = 0 on data of non-zero variance: the plain formula, 1 / sqrt(variance).
  { name: 'eps 0: NCHW [2, 3, 5, 7] train', shape: [2, 3, 5, 7], layout: 'NCHW', pass: 'train', activation: 'none', convention: 'pytorch', eps: 0 },
  { name: 'eps 0: NHWC [2, 4, 4, 5] train relu, three kernels', shape: [2, 4, 4, 5], layout: 'NHWC', pass: 'train', activation: 'relu', convention: 'keras', eps: 0, tuning: threeKernels },
  { name: 'eps 0: NC [64, 3] inference', shape: [64, 3], layout: 'NC', pass: 'inference', activation: 'none', convention: 'onnx', eps: 0 },
  { name: 'eps 0: NCL [2, 2, 50] tiny values (std 1e-3)', shape: [2, 2, 50], layout: 'NCL', pass: 'train', activation: 'none', convention: 'pytorch', eps: 0, std: 1e-3 },
  // 1-D input [N]: one channel of N values.
  { name: '1-D [2] train (M = 2)', shape: [2], pass: 'train', activation: 'none', convention: 'pytorch' },
  { name: '1-D [7] train relu', shape: [7], pass: 'train', activation: 'relu', convention: 'onnx' },
  { name: '1-D [1001] train, three kernels', shape: [1001], pass: 'train', activation: 'none', convention: 'keras', tuning: threeKernels },
  { name: '1-D [4099] train mean 1e4 ± 1', shape: [4099], pass: 'train', activation: 'none', convention: 'pytorch', mean: 1e4, std: 1 },
  { name: '1-D [70001] train relu, three kernels', shape: [70001], pass: 'train', activation: 'relu', convention: 'pytorch', tuning: threeKernels },
  { name: '1-D [1] inference', shape: [1], pass: 'inference', activation: 'none', convention: 'pytorch' },
  { name: '1-D [513] inference relu', shape: [513], pass: 'inference', activation: 'relu', convention: 'keras' },
  // Arrays of numbers on the host-array calls (the resident path gets buffers as always).
  { name: 'number[]: NHWC [2, 3, 3, 4] train relu', shape: [2, 3, 3, 4], layout: 'NHWC', pass: 'train', activation: 'relu', convention: 'pytorch', numberArrays: true },
  { name: 'number[]: NCHW [2, 3, 4, 5] inference', shape: [2, 3, 4, 5], layout: 'NCHW', pass: 'inference', activation: 'none', convention: 'keras', numberArrays: true },
  { name: 'number[]: 1-D [37] train, onnx, eps 0', shape: [37], pass: 'train', activation: 'none', convention: 'onnx', eps: 0, numberArrays: true },
];

const backwardCases: Omit<BackwardCase, 'seed'>[] = [
  { name: 'eps 0: NCHW [2, 3, 5, 7] train', shape: [2, 3, 5, 7], layout: 'NCHW', mode: 'train', activation: 'none', eps: 0 },
  { name: 'eps 0: NHWC [2, 4, 4, 5] eval relu, three kernels', shape: [2, 4, 4, 5], layout: 'NHWC', mode: 'eval', activation: 'relu', eps: 0, tuning: threeKernels },
  { name: '1-D [2] train', shape: [2], mode: 'train', activation: 'none' },
  { name: '1-D [7] train relu', shape: [7], mode: 'train', activation: 'relu' },
  { name: '1-D [1001] train, three kernels', shape: [1001], mode: 'train', activation: 'relu', tuning: threeKernels },
  { name: '1-D [4099] train mean 1e4 ± 1', shape: [4099], mode: 'train', activation: 'none', mean: 1e4, std: 1 },
  { name: '1-D [513] eval', shape: [513], mode: 'eval', activation: 'none' },
  { name: 'number[]: NCL [3, 4, 9] train relu', shape: [3, 4, 9], layout: 'NCL', mode: 'train', activation: 'relu', numberArrays: true },
  { name: 'number[]: NC [40, 6] eval relu', shape: [40, 6], layout: 'NC', mode: 'eval', activation: 'relu', numberArrays: true },
  { name: 'number[]: 1-D [64] train, eps 0', shape: [64], mode: 'train', activation: 'none', eps: 0, numberArrays: true },
];

describeGpu('ONNX convention, eps 0, 1-D input and arrays of numbers on WebGPU', () => {
  let harness: HarnessPage;
  beforeAll(async () => {
    harness = await openHarness();
  });
  afterAll(async () => {
    await harness?.close();
  });

  it.each(forwardCases.map((c) => [c.name, { ...c, seed }] as const))('forward %s', async (_name, spec) => {
    const report = await harness.call('forwardCase', spec);
    expect(report.backend).toBe('webgpu');
    expect(report.inputUnmodified).toBe(true);
    expect(report.checks.length).toBeGreaterThan(0);
    expect(report.checks.filter((c) => c.failure !== null).map((c) => c.failure)).toEqual([]);
  });

  it.each(backwardCases.map((c) => [c.name, { ...c, seed }] as const))('backward %s', async (_name, spec) => {
    const report = await harness.call('backwardCase', spec);
    expect(report.backend).toBe('webgpu');
    expect(report.inputUnmodified).toBe(true);
    expect(report.checks.length).toBeGreaterThan(0);
    expect(report.checks.filter((c) => c.failure !== null).map((c) => c.failure)).toEqual([]);
    if (spec.activation === 'relu' && report.size >= 64) expect(report.masked).toBeGreaterThan(0);
  });
});
