import { afterAll, describe, it } from 'vitest';
import type { Layout } from '../../src/types';
import { caseSeed, createRng, seedFromEnv } from '../support/random';
import { reportWorstErrors } from './helpers/expect-close';
import { checkInferenceCase, checkTrainCase, randomCase } from './helpers/run-case';

// Replay a failure with TEST_SEED=<printed seed>.
const seed = seedFromEnv();
console.log(`cpu-forward-shapes: TEST_SEED=${seed}`);

// Shapes where index arithmetic goes wrong: one channel, the minimum M = 2 values per channel,
// prime sizes, sizes not a multiple of 4, and a few thousand values per channel.
const shapes: { label: string; shape: number[]; layout: Layout }[] = [
  { label: 'C = 1', shape: [17, 1], layout: 'NC' },
  { label: 'C = 1', shape: [3, 1, 5, 5], layout: 'NCHW' },
  { label: 'C = 1', shape: [3, 5, 5, 1], layout: 'NHWC' },
  { label: 'M = 2', shape: [2, 5], layout: 'NC' },
  { label: 'M = 2', shape: [1, 3, 1, 2], layout: 'NCHW' },
  { label: 'M = 2', shape: [2, 1, 1, 3], layout: 'NHWC' },
  { label: 'M = 2', shape: [1, 4, 2], layout: 'NCL' },
  { label: 'M = 2', shape: [1, 2, 6], layout: 'NLC' },
  { label: 'primes', shape: [3, 7, 11, 13], layout: 'NCHW' },
  { label: 'primes', shape: [3, 11, 13, 7], layout: 'NHWC' },
  { label: 'primes', shape: [5, 13, 17], layout: 'NCL' },
  { label: 'primes', shape: [2, 3, 5, 7, 11], layout: 'NCDHW' },
  { label: 'large', shape: [1001, 33], layout: 'NC' },
  { label: 'large', shape: [6, 9, 17, 17], layout: 'NCHW' },
  { label: 'large', shape: [4, 19, 23, 9], layout: 'NHWC' },
  // Interleaved channels are walked in blocks of rows, four channels at a time (src/cpu/row-blocks.ts):
  // whole groups with a last partial block, and more channels than blocks are used for.
  { label: 'row blocks', shape: [300, 128], layout: 'NC' },
  { label: 'row blocks', shape: [3, 5, 7, 1030], layout: 'NHWC' },
  { label: 'memory order', shape: [5, 1031], layout: 'NC' },
];

describe('CPU forward on awkward shapes', () => {
  for (const { label, shape, layout } of shapes) {
    const name = `${label} ${layout} [${shape}]`;
    it(`train, pytorch + relu: ${name}`, () => {
      const { x, options } = randomCase(createRng(caseSeed(seed, `pytorch ${name}`)), {
        shape,
        layout,
        activation: 'relu',
      });
      checkTrainCase(x, options, `pytorch ${name}`);
    });
    it(`train, keras: ${name}`, () => {
      const { x, options } = randomCase(createRng(caseSeed(seed, `keras ${name}`)), {
        shape,
        layout,
        convention: 'keras',
      });
      checkTrainCase(x, options, `keras ${name}`);
    });
    it(`inference: ${name}`, () => {
      const { x, options } = randomCase(createRng(caseSeed(seed, `inference ${name}`)), { shape, layout });
      checkInferenceCase(x, options, `inference ${name}`);
    });
  }
});

afterAll(() => reportWorstErrors(`cpu-forward-shapes (TEST_SEED=${seed})`));
