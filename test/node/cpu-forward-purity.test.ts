import { describe, expect, it } from 'vitest';
import { cpuForwardInference, cpuForwardTrain } from '../../src/cpu/forward';
import { BatchNormError } from '../../src/errors';
import { resolveOptions } from '../../src/options';
import type { BatchNormOptions } from '../../src/types';
import { caseSeed, createRng, seedFromEnv } from '../support/random';
import { randomCase } from './helpers/run-case';

// Replay a failure with TEST_SEED=<printed seed>.
const seed = seedFromEnv();
console.log(`cpu-forward-purity: TEST_SEED=${seed}`);

function inputsOf(x: Float32Array, options: BatchNormOptions): Float32Array[] {
  // randomCase gives Float32Arrays (the options also take arrays of numbers).
  return [x, options.gamma, options.beta, options.runningMean, options.runningVar] as Float32Array[];
}

const copies = (arrays: Float32Array[]) => arrays.map((a) => Float32Array.from(a));

describe('CPU forward leaves its inputs alone', () => {
  for (const layout of ['NHWC', 'NCHW'] as const) {
    it(`${layout}: inputs unchanged, outputs are new arrays, results repeatable`, () => {
      const { x, options } = randomCase(createRng(caseSeed(seed, `purity ${layout}`)), {
        shape: [3, 5, 4, 6],
        layout,
        activation: 'relu',
      });
      const inputs = inputsOf(x, options);
      const before = copies(inputs);
      const train = cpuForwardTrain(x, resolveOptions(options, 'train'));
      const y = cpuForwardInference(x, resolveOptions(options, 'inference'));
      inputs.forEach((input, k) => expect(input).toEqual(before[k]));
      const outputs = [train.y, train.mean, train.variance, train.invStd, train.runningMean!, train.runningVar!, y];
      const buffers = new Set([...inputs, ...outputs].map((a) => a.buffer));
      expect(buffers.size).toBe(inputs.length + outputs.length); // no output aliases anything
      expect(cpuForwardTrain(x, resolveOptions(options, 'train'))).toEqual(train);
      expect(cpuForwardInference(x, resolveOptions(options, 'inference'))).toEqual(y);
    });
  }

  it('rejects data of the wrong length and inference without running statistics', () => {
    const o = resolveOptions({ shape: [4, 3], layout: 'NC' }, 'train');
    expect(() => cpuForwardTrain(new Float32Array(11), o)).toThrow(BatchNormError);
    expect(() => cpuForwardInference(new Float32Array(12), o)).toThrow(/runningMean and runningVar/);
  });

  it('rejects training with one value per channel even when the options were resolved for inference', () => {
    const stats = { runningMean: new Float32Array(3), runningVar: new Float32Array(3) };
    const o = resolveOptions({ shape: [1, 3], layout: 'NC', ...stats }, 'inference');
    expect(() => cpuForwardTrain(new Float32Array(3), o)).toThrow(/more than 1 value per channel/);
  });
});
