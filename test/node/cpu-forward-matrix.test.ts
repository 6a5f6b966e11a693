import { afterAll, describe, it } from 'vitest';
import { layouts } from '../../src/layout';
import type { Activation, Convention } from '../../src/types';
import { caseSeed, createRng, seedFromEnv } from '../support/random';
import { cpuMatrixShapes } from '../support/odd-shapes';
import { reportWorstErrors } from './helpers/expect-close';
import { checkInferenceCase, checkTrainCase, randomCase } from './helpers/run-case';

// Replay a failure with TEST_SEED=<printed seed>.
const seed = seedFromEnv();
console.log(`cpu-forward-matrix: TEST_SEED=${seed}`);

const shapes = cpuMatrixShapes;
const activations: Activation[] = ['none', 'relu'];
const conventions: Convention[] = ['pytorch', 'keras'];

describe('CPU forward vs the float64 reference, every layout × pass × activation × convention', () => {
  for (const layout of layouts) {
    for (const activation of activations) {
      for (const convention of conventions) {
        const shape = shapes[layout];
        const name = `${layout} [${shape}] ${activation} ${convention}`;
        it(`train ${name}`, () => {
          const spec = { shape, layout, activation, convention };
          const { x, options } = randomCase(createRng(caseSeed(seed, `train ${name}`)), spec);
          checkTrainCase(x, options, `train ${name}`);
        });
        it(`inference ${name}`, () => {
          const spec = { shape, layout, activation, convention };
          const { x, options } = randomCase(createRng(caseSeed(seed, `inference ${name}`)), spec);
          checkInferenceCase(x, options, `inference ${name}`);
        });
      }
    }
  }
});

afterAll(() => reportWorstErrors(`cpu-forward-matrix (TEST_SEED=${seed})`));
