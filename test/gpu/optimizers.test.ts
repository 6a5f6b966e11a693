import { afterAll, beforeAll, expect, it } from 'vitest';
import type { OptimizerCase } from './page/optimizer-case';
import { describeGpu, openHarness, type HarnessPage } from '../support/browser';
import { seedFromEnv } from '../support/random';

const seed = seedFromEnv();
console.log(`optimizer GPU tests: TEST_SEED=${seed}`);

const STEPS = 20;
/** Several parameters of odd lengths: 1, 7 (below a workgroup), 1001 and 4099 (not multiples of 64). */
const lengths = [1, 7, 1001, 4099];

const configs: [string, OptimizerCase['options']][] = [
  ['sgd', { kind: 'sgd', lr: 0.05 }],
  ['sgd momentum', { kind: 'sgd', lr: 0.05, momentum: 0.9 }],
  ['sgd momentum dampening weight decay', { kind: 'sgd', lr: 0.05, momentum: 0.9, dampening: 0.3, weightDecay: 0.01 }],
  ['sgd nesterov weight decay maximize', { kind: 'sgd', lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01, maximize: true }],
  ['adam', { kind: 'adam', lr: 0.01 }],
  ['adam L2 weight decay', { kind: 'adam', lr: 0.01, weightDecay: 0.01 }],
  ['adam amsgrad', { kind: 'adam', lr: 0.01, amsgrad: true }],
  ['adamw', { kind: 'adamw', lr: 0.01 }],
  ['adamw amsgrad maximize betas', { kind: 'adamw', lr: 0.01, betas: [0.8, 0.99], weightDecay: 0.1, amsgrad: true, maximize: true }],
  ['rmsprop', { kind: 'rmsprop', lr: 0.01 }],
  ['rmsprop centered', { kind: 'rmsprop', lr: 0.01, centered: true }],
  ['rmsprop momentum', { kind: 'rmsprop', lr: 0.01, momentum: 0.9 }],
  ['rmsprop centered momentum weight decay', { kind: 'rmsprop', lr: 0.01, centered: true, momentum: 0.9, weightDecay: 0.01 }],
];

const matrix: OptimizerCase[] = configs.map(([name, options]) => ({ name, seed, options, lengths, steps: STEPS }));

const special: OptimizerCase[] = [
  // 2^22 + 3 values: 65 537 workgroups of 64, above maxComputeWorkgroupsPerDimension (65 535), so
  // the dispatch is folded into a 2-D grid.
  { name: 'adam amsgrad on 4 194 307 values (folded grid)', seed, options: { kind: 'adam', lr: 0.01, amsgrad: true }, lengths: [4_194_307, 7], steps: STEPS },
  // One-thread workgroups: 70 001 workgroups for a modest buffer, folded too.
  { name: 'sgd nesterov, workgroupSize 1 (folded grid)', seed, options: { kind: 'sgd', lr: 0.05, momentum: 0.9, nesterov: true }, lengths: [70_001, 3], steps: STEPS, tuning: { workgroupSize: 1 } },
  // 1 KiB bindings: 1001 values are updated as four segments bound at 256-byte offsets.
  {
    name: 'rmsprop centered momentum in 1 KiB binding segments',
    seed,
    options: { kind: 'rmsprop', lr: 0.01, centered: true, momentum: 0.5 },
    lengths: [1, 255, 256, 257, 1001],
    steps: STEPS,
    tuning: { maxBindingBytes: 1024 },
  },
  {
    name: 'adamw with a learning-rate schedule',
    seed,
    options: { kind: 'adamw', lr: 0.01, weightDecay: 0.05 },
    lengths,
    steps: STEPS,
    schedule: [[5, 0.005], [10, 0.001], [15, 0.02]],
  },
  { name: 'adam with a parameter added at step 8', seed, options: { kind: 'adam', lr: 0.01 }, lengths, steps: STEPS, lateParamAt: 8 },
  { name: 'sgd momentum: state exported and re-imported at step 10', seed, options: { kind: 'sgd', lr: 0.05, momentum: 0.9, dampening: 0.1 }, lengths, steps: STEPS, reloadAt: 10 },
  { name: 'adam amsgrad: state exported and re-imported at step 7', seed, options: { kind: 'adam', lr: 0.01, amsgrad: true }, lengths, steps: STEPS, reloadAt: 7 },
];

describeGpu('GPU optimizers against the CPU optimizers', () => {
  let harness: HarnessPage;
  const worst = new Map<string, { output: string; maxAbs: number; maxRel: number; used: number; where: string }>();
  beforeAll(async () => {
    harness = await openHarness();
  });
  afterAll(async () => {
    await harness?.close();
    console.log('worst GPU-vs-CPU errors (max abs / max rel / share of tolerance used):');
    for (const [key, w] of worst) {
      console.log(`  ${key.padEnd(12)} ${w.maxAbs.toExponential(2)} / ${w.maxRel.toExponential(2)} / ${(100 * w.used).toFixed(1)}%  (${w.where}: ${w.output})`);
    }
  });

  it.each([...matrix, ...special].map((c) => [c.name, c] as const))('%s', async (_name, spec) => {
    const report = await harness.call('optimizerCase', spec);
    expect(report.gpuErrors).toEqual([]);
    const failures = report.checks.filter((c) => c.failure !== null).map((c) => c.failure);
    expect(failures).toEqual([]);
    // Step counts live on the GPU and advance once per step (a late parameter starts from 0).
    expect(report.gpuSteps).toEqual(report.cpuSteps);
    expect(report.cpuSteps[0]).toBe(STEPS);
    if (spec.lateParamAt !== undefined) expect(report.cpuSteps.at(-1)).toBe(STEPS - spec.lateParamAt);
    // Steady state: a step (gradient upload, lr change, encode, submit) creates no GPU object.
    expect(report.perStep.buffers).toEqual(new Array(STEPS).fill(0));
    expect(report.perStep.bindGroups).toEqual(new Array(STEPS).fill(0));
    expect(report.perStep.pipelines).toEqual(new Array(STEPS).fill(0));
    if (spec.lateParamAt === undefined && spec.reloadAt === undefined) {
      expect(report.liveBuffers.atEnd).toBe(report.liveBuffers.afterSetup);
    }
    if (spec.name.includes('folded grid')) {
      const workgroups = Math.ceil(spec.lengths[0] / (spec.tuning?.workgroupSize ?? 64));
      expect(workgroups).toBeGreaterThan(report.maxWorkgroupsPerDimension);
    }
    for (const c of report.checks) {
      const key = `${spec.options.kind}.${c.output.includes('.') ? c.output.split('.').at(-1) : 'param'}`;
      const current = worst.get(key);
      if (!current || c.toleranceUsed > current.used) {
        worst.set(key, { output: c.output, maxAbs: c.maxAbs, maxRel: c.maxRel, used: c.toleranceUsed, where: spec.name });
      }
    }
  });

  it('rejects bad hyper-parameters, buffers and states before touching the GPU', async () => {
    const report = await harness.call('optimizerValidation', { seed });
    expect(report.gpuErrors).toEqual([]);
    const expected: Record<string, string> = {};
    for (const r of report.rejections) {
      const code = r.what.startsWith('options') || r.what.startsWith('tuning') || r.what.startsWith('setLearningRate') || r.what.startsWith('importState') || /length (0|2\.5)/.test(r.what) ? 'invalid-option' : 'invalid-buffer';
      expected[r.what] = code;
    }
    expect(Object.fromEntries(report.rejections.map((r) => [r.what, r.code]))).toEqual(expected);
    expect(report.rejections.length).toBe(25);
    for (const r of report.rejections) expect(r.created, r.what).toBe(0);
    expect(report.paramsUntouched).toBe(true);
    expect(report.lrAfterRejectedChange).toBe(0.1);
    expect(report.stateAfterRejectedImport).toBe('unchanged');
    expect(report.stepMatchesCpu).toBe(true);
    expect(report.afterDestroy).toBe('disposed');
  });
});
