import { describe, expect, it } from 'vitest';
import { BatchNormError, createBatchNorm } from '../../src/index';
import { cleanX, ruleViolations, runScenario, savedOptions, scenarioInputs, scenarios } from '../support/non-finite';
import { seedFromEnv } from '../support/random';

const seed = seedFromEnv();

describe('NaN and ±Inf on the CPU path (README, Reliability)', () => {
  it.each(scenarios().map((s) => [s.name, s] as const))('%s', async (_name, s) => {
    const bn = await createBatchNorm({ backend: 'cpu' });
    const inputs = scenarioInputs(seed, s);
    const clean = await bn.forwardTrain(cleanX(s, inputs), savedOptions(s));
    const out = await runScenario(bn, s, inputs, clean);
    expect(ruleViolations(s, inputs, out), `TEST_SEED=${seed}`).toEqual([]);
  });
});

describe('checkFinite', () => {
  const shape = [4, 3];
  const x = Float32Array.from({ length: 12 }, (_, i) => i % 5);
  const codeOf = async (work: () => Promise<unknown>) => work().then(() => 'accepted', (e: unknown) => (e instanceof BatchNormError ? e.code : String(e)));

  it('refuses NaN and ±Inf in every input of every host-array call, naming the value', async () => {
    const bn = await createBatchNorm({ backend: 'cpu', checkFinite: true });
    const bad = x.slice();
    bad[7] = NaN;
    const running = { runningMean: new Float32Array(3), runningVar: new Float32Array(3).fill(1) };
    const saved = await bn.forwardTrain(x, { shape });
    await expect(bn.forwardTrain(bad, { shape })).rejects.toThrow(/forwardTrain: x\[7\] is NaN in the input, channel 1/);
    expect(await codeOf(() => bn.forwardTrain(x, { shape, gamma: Float32Array.of(1, Infinity, 1) }))).toBe('non-finite');
    expect(await codeOf(() => bn.forwardInference(x, { shape, runningMean: new Float32Array(3), runningVar: Float32Array.of(1, 1, -Infinity) }))).toBe('non-finite');
    expect(await codeOf(() => bn.backward(bad, x, { shape }, saved))).toBe('non-finite');
    expect(await codeOf(() => bn.backward(x, x, { shape }, { ...saved, invStd: Float32Array.of(1, NaN, 1) }))).toBe('non-finite');
    expect(await codeOf(() => bn.backward(x, bad, { shape, mode: 'eval', ...running }))).toBe('non-finite');
    expect(await codeOf(() => bn.channelStatistics(bad, { shape }))).toBe('non-finite');
    // Finite inputs pass.
    expect(await codeOf(() => bn.backward(x, x, { shape }, saved))).toBe('accepted');
  });

  it('refuses a result that overflowed float32 from finite inputs, and is off by default', async () => {
    const huge = Float32Array.of(1e20, 1, -1e20, 2, 1e20, 3, -1e20, 4);
    const checked = await createBatchNorm({ backend: 'cpu', checkFinite: true });
    await expect(checked.forwardTrain(huge, { shape: [4, 2] })).rejects.toThrow(/forwardTrain: y\[0\] is NaN in the result/);
    const plain = await createBatchNorm({ backend: 'cpu' });
    const out = await plain.forwardTrain(huge, { shape: [4, 2] });
    expect(Number.isNaN(out.variance[0]) && Number.isFinite(out.variance[1])).toBe(true);
  });

  it('must be a boolean', async () => {
    await expect(createBatchNorm({ backend: 'cpu', checkFinite: 'yes' as never })).rejects.toMatchObject({ code: 'invalid-option' });
  });
});
