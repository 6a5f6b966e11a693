import { describe, expect, it } from 'vitest';
import { checkSaved, resolveBackwardOptions } from '../../src/backward-options';
import { cpuBackward } from '../../src/cpu/backward';
import { cpuForwardTrain } from '../../src/cpu/forward';
import { createBatchNorm } from '../../src/engine';
import { BatchNormError, type BatchNormErrorCode } from '../../src/errors';
import { resolveOptions } from '../../src/options';
import type { BackwardOptions } from '../../src/types';
import { caseSeed, createRng, normals, seedFromEnv } from '../support/random';
import { randomCase } from './helpers/run-case';

const seed = seedFromEnv();
console.log(`backward-options: TEST_SEED=${seed}`);

async function codeOf(action: () => unknown): Promise<BatchNormErrorCode | 'no error' | 'not a BatchNormError'> {
  try {
    await action();
    return 'no error';
  } catch (error) {
    return error instanceof BatchNormError ? error.code : 'not a BatchNormError';
  }
}

const C3 = () => new Float32Array(3).fill(1);
const base: BackwardOptions = { shape: [4, 3, 2], layout: 'NCL' };
const saved = { mean: C3(), invStd: C3() };
const data = () => new Float32Array(24);

describe('backward options and saved statistics', () => {
  it('defaults to training mode and accepts eval', () => {
    expect(resolveBackwardOptions(base).mode).toBe('train');
    expect(resolveBackwardOptions({ ...base, mode: 'eval', runningMean: C3(), runningVar: C3() }).mode).toBe('eval');
  });

  it('rejects unknown modes, eval without running statistics, M = 1 in training', async () => {
    expect(await codeOf(() => resolveBackwardOptions({ ...base, mode: 'inference' as never }))).toBe('invalid-option');
    expect(await codeOf(() => resolveBackwardOptions({ ...base, mode: 'eval' }))).toBe('missing-running-stats');
    expect(await codeOf(() => resolveBackwardOptions({ ...base, mode: 'eval', runningMean: C3() }))).toBe('missing-running-stats');
    expect(await codeOf(() => resolveBackwardOptions({ shape: [1, 3] }))).toBe('too-few-values');
    // One value per channel is fine with frozen statistics.
    expect(await codeOf(() => resolveBackwardOptions({ shape: [1, 3], mode: 'eval', runningMean: C3(), runningVar: C3() }))).toBe('no error');
    expect(await codeOf(() => resolveBackwardOptions(null as never))).toBe('invalid-option');
  });

  it('needs saved { mean, invStd } of length C in training, ignores it in eval without relu', async () => {
    const train = resolveBackwardOptions(base);
    expect(await codeOf(() => checkSaved(undefined, train))).toBe('invalid-option');
    expect(await codeOf(() => checkSaved({ mean: C3() }, train))).toBe('invalid-option');
    expect(await codeOf(() => checkSaved({ mean: C3(), invStd: new Float64Array(3) }, train))).toBe('invalid-option');
    expect(await codeOf(() => checkSaved({ mean: C3(), invStd: new Float32Array(4) }, train))).toBe('channel-mismatch');
    expect(checkSaved(saved, train)).toEqual(saved);
    const evalMode = resolveBackwardOptions({ ...base, mode: 'eval', runningMean: C3(), runningVar: C3() });
    expect(checkSaved(undefined, evalMode)).toEqual({});
  });

  it("with activation 'relu' needs saved.y, the forward's output, in both modes", async () => {
    const y = data();
    const train = resolveBackwardOptions({ ...base, activation: 'relu' });
    expect(await codeOf(() => checkSaved(saved, train))).toBe('invalid-option');
    expect(await codeOf(() => checkSaved({ ...saved, y: new Float32Array(23) }, train))).toBe('length-mismatch');
    expect(await codeOf(() => checkSaved({ ...saved, y: new Float64Array(24) }, train))).toBe('invalid-option');
    expect(checkSaved({ ...saved, y }, train)).toEqual({ ...saved, y });
    const evalMode = resolveBackwardOptions({ ...base, activation: 'relu', mode: 'eval', runningMean: C3(), runningVar: C3() });
    expect(await codeOf(() => checkSaved(undefined, evalMode))).toBe('invalid-option');
    expect(await codeOf(() => checkSaved({}, evalMode))).toBe('invalid-option');
    expect(checkSaved({ y }, evalMode)).toEqual({ y });
    // The engine refuses before computing anything.
    const bn = await createBatchNorm({ backend: 'cpu' });
    expect(await codeOf(() => bn.backward(data(), data(), { ...base, activation: 'relu' }, saved))).toBe('invalid-option');
    expect(await codeOf(() => bn.backward(data(), data(), { ...base, activation: 'relu', mode: 'eval', runningMean: C3(), runningVar: C3() }))).toBe('invalid-option');
    expect(await codeOf(() => bn.backward(data(), data(), { ...base, activation: 'relu' }, { ...saved, y }))).toBe('no error');
    bn.dispose();
  });

  it('the engine validates before computing: lengths of dy and x, saved, options', async () => {
    const bn = await createBatchNorm({ backend: 'cpu' });
    expect(await codeOf(() => bn.backward(new Float32Array(23), data(), base, saved))).toBe('length-mismatch');
    expect(await codeOf(() => bn.backward(data(), new Float32Array(25), base, saved))).toBe('length-mismatch');
    expect(await codeOf(() => bn.backward(data(), data(), base))).toBe('invalid-option');
    expect(await codeOf(() => bn.backward(data(), data(), { ...base, gamma: new Float32Array(2) }, saved))).toBe('channel-mismatch');
    expect(await codeOf(() => bn.backward(data(), data(), base, saved))).toBe('no error');
    bn.dispose();
    expect(await codeOf(() => bn.backward(data(), data(), base, saved))).toBe('disposed');
  });
});

describe('CPU backward leaves its inputs alone', () => {
  for (const mode of ['train', 'eval'] as const) {
    it(`${mode}, relu: inputs unchanged, outputs are new arrays, results repeatable`, () => {
      const rng = createRng(caseSeed(seed, `purity ${mode}`));
      const { x, options } = randomCase(rng, { shape: [3, 5, 4, 6], layout: 'NHWC', activation: 'relu' });
      const dy = normals(rng, x.length);
      const forward = cpuForwardTrain(x, resolveOptions(options, 'train'));
      // randomCase gives Float32Arrays (the options also take arrays of numbers).
      const inputs = [x, dy, options.gamma, options.beta, options.runningMean, options.runningVar, forward.mean, forward.invStd, forward.y] as Float32Array[];
      const before = inputs.map((a) => a.slice());
      const resolved = resolveBackwardOptions({ ...options, mode });
      const result = cpuBackward(dy, x, resolved, forward);
      inputs.forEach((input, k) => expect(input).toEqual(before[k]));
      const buffers = new Set([...inputs, result.dx, result.dgamma, result.dbeta].map((a) => a.buffer));
      expect(buffers.size).toBe(inputs.length + 3);
      expect(cpuBackward(dy, x, resolved, forward)).toEqual(result);
    });
  }
});
