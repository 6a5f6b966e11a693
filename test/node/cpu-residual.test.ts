import { afterAll, describe, expect, it } from 'vitest';
import { resolveBackwardOptions } from '../../src/backward-options';
import { cpuBackward } from '../../src/cpu/backward';
import { cpuForwardInference, cpuForwardTrain } from '../../src/cpu/forward';
import { createBatchNorm } from '../../src/index';
import { layouts } from '../../src/layout';
import { resolveOptions } from '../../src/options';
import type { Activation, BackwardMode, Layout } from '../../src/types';
import { referenceBackward } from '../support/reference-backward';
import { cpuMatrixShapes } from '../support/odd-shapes';
import { caseSeed, createRng, normals, seedFromEnv } from '../support/random';
import { reportWorstErrors } from './helpers/expect-close';
import { checkInferenceCase, checkTrainCase, randomCase } from './helpers/run-case';
import { referenceParamsOf } from './helpers/backward-case';

// Replay a failure with TEST_SEED=<printed seed>.
const seed = seedFromEnv();
console.log(`cpu-residual: TEST_SEED=${seed}`);

/*
 * The CPU path of the fused residual add, y = act(BN(x) + z), against the float64 reference
 * (test/support/reference.ts adds z before the activation): the forward in both passes, and the
 * backward's dz = dy where y > 0 (all of dy without relu), which must equal the reference's masked
 * dy exactly. dx, dgamma and dbeta of a residual's backward are those of the same y without one
 * (the mask is read from y): cpu-backward-matrix bounds them.
 */
const shapes = cpuMatrixShapes;
const activations: Activation[] = ['none', 'relu'];

function residualCase(name: string, shape: number[], layout: Layout, activation: Activation, zMean = 0, means?: number[]) {
  const rng = createRng(caseSeed(seed, name));
  const { x, options } = randomCase(rng, { shape, layout, activation, means });
  const residual = normals(rng, x.length, zMean, 1);
  const dy = normals(rng, x.length, 0, 1);
  return { x, dy, options: { ...options, residual } };
}

describe('CPU residual forward vs the float64 reference, every layout × pass × activation', () => {
  for (const layout of layouts) {
    for (const activation of activations) {
      const name = `${layout} [${shapes[layout]}] ${activation}`;
      it(`train ${name}`, () => {
        const { x, options } = residualCase(`train ${name}`, shapes[layout], layout, activation);
        checkTrainCase(x, options, `train ${name}`);
      });
      it(`inference ${name}`, () => {
        const { x, options } = residualCase(`inference ${name}`, shapes[layout], layout, activation);
        checkInferenceCase(x, options, `inference ${name}`);
      });
    }
  }
  it('x of mean 1e4 ± 1 (the statistics cancel it) plus z ± 1', () => {
    const name = 'x mean 1e4';
    const { x, options } = residualCase(name, [4099, 3], 'NC', 'relu', 0, [1e4, -1e4, 1e4]);
    const { cpu } = checkTrainCase(x, options, name);
    expect(cpu.y.some((v) => v === 0) && cpu.y.some((v) => v > 0)).toBe(true);
  });
  it('z of mean 1e4 ± 1: y is z plus a normalized x', () => {
    const name = 'z mean 1e4';
    const { x, options } = residualCase(name, [7, 3, 5, 5], 'NHWC', 'relu', 1e4);
    const { cpu } = checkTrainCase(x, options, name);
    expect(cpu.y.every((v) => v > 9e3)).toBe(true);
  });
});

describe('CPU residual backward: dz is the masked dy, exactly', () => {
  for (const layout of layouts) {
    for (const mode of ['train', 'eval'] as BackwardMode[]) {
      for (const activation of activations) {
        const name = `${layout} [${shapes[layout]}] ${mode} ${activation}`;
        it(name, () => {
          const { x, dy, options } = residualCase(name, shapes[layout], layout, activation);
          const forward = mode === 'train' ? cpuForwardTrain(x, resolveOptions(options, 'train')) : undefined;
          const y = forward ? forward.y : cpuForwardInference(x, resolveOptions(options, 'inference'));
          const saved = forward ? { mean: forward.mean, invStd: forward.invStd, y } : { y };
          const cpu = cpuBackward(dy, x, resolveBackwardOptions({ ...options, mode }), saved);
          const ref = referenceBackward(x, dy, referenceParamsOf(options), { mode, y });
          expect(cpu.dz).toEqual(Float32Array.from(ref.g));
          if (activation === 'relu') expect(cpu.dz!.some((v, i) => v === 0 && dy[i] !== 0)).toBe(true);
          else expect(cpu.dz).not.toBe(dy); // a copy, never the caller's array
          // Without `residual`, no dz.
          const { residual: _z, ...plain } = options;
          expect(cpuBackward(dy, x, resolveBackwardOptions({ ...plain, mode }), saved).dz).toBeUndefined();
        });
      }
    }
  }

  it('the engine on the CPU path: backward(…, { residual: true }) returns dz; { residual: z } checks its length', async () => {
    const bn = await createBatchNorm({ backend: 'cpu' });
    const { x, dy, options } = residualCase('engine', [6, 4], 'NC', 'relu');
    const forward = await bn.forwardTrain(x, options);
    const withTrue = await bn.backward(dy, x, { ...options, residual: true }, forward);
    const withZ = await bn.backward(dy, x, options, forward);
    expect(withZ.dz).toEqual(withTrue.dz);
    expect(withTrue.dz.every((v, i) => v === (forward.y[i] > 0 ? dy[i] : 0))).toBe(true);
    await expect(bn.backward(dy, x, { ...options, residual: options.residual.subarray(1) }, forward)).rejects.toMatchObject({ code: 'length-mismatch' });
    await expect(bn.forwardTrain(x, { ...options, residual: options.residual.subarray(1) })).rejects.toMatchObject({ code: 'length-mismatch' });
  });
});

afterAll(() => reportWorstErrors(`cpu-residual (TEST_SEED=${seed})`));
