import { expect, it } from 'vitest';
import type { OptimizerOptions } from '../../src/optim/types';
import { describeGpu, useHarness } from '../support/browser';
import { seedFromEnv } from '../support/random';

const seed = seedFromEnv();
console.log(`training GPU tests: TEST_SEED=${seed}`);

/**
 * Each optimizer drives γ, β to the known a, b (the loss is a convex quadratic in them). The GPU
 * trajectory must follow the CPU path's: both round to float32 at every step from the same
 * formulas, and the iteration is contractive, so differences stay at float32 noise: rtol 1e-4 of
 * the parameter plus atol 1e-5 at every checkpoint up to step 50 (measured: ≤ 4e-7). At the last
 * checkpoint, once converged, Adam and RMSprop divide a gradient that is only float32 noise by its
 * running RMS, so each step of up to lr follows the noise's sign: there the paths agree to one
 * step (atol = the decayed lr, see training-case.ts), and both must still be within 1e-3 of a, b.
 */
const optimizers: [string, OptimizerOptions, number][] = [
  ['SGD momentum 0.9', { kind: 'sgd', lr: 0.1, momentum: 0.9 }, 150],
  ['SGD Nesterov', { kind: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true }, 150],
  ['Adam', { kind: 'adam', lr: 0.05 }, 400],
  ['AdamW', { kind: 'adamw', lr: 0.05, weightDecay: 0 }, 400],
  ['RMSprop', { kind: 'rmsprop', lr: 0.01, momentum: 0.5 }, 400],
];

describeGpu('training γ and β on the GPU with each optimizer', () => {
  const harness = useHarness();

  it.each(optimizers)('%s reaches a, b within 1e-3 and follows the CPU trajectory', async (_name, optimizer, steps) => {
    const checkpoints = [1, 2, 5, 10, 50, steps];
    const report = await harness().call('trainingCase', { seed, optimizer, steps, checkpoints });
    const final = report.gpu[report.gpu.length - 1];
    if (process.env.DEBUG_TRAINING) console.log(JSON.stringify(report));
    for (let c = 0; c < report.target.a.length; c++) {
      expect(Math.abs(final.gamma[c] - report.target.a[c])).toBeLessThan(1e-3);
      expect(Math.abs(final.beta[c] - report.target.b[c])).toBeLessThan(1e-3);
    }
    const adaptive = optimizer.kind !== 'sgd';
    report.gpu.forEach((point, k) => {
      const converged = adaptive && point.step > 50;
      const atol = converged ? Math.max(1e-5, (optimizer.lr ?? 0) / 10) : 1e-5;
      const cpu = report.cpu[k];
      expect(cpu.step).toBe(point.step);
      point.gamma.forEach((g, c) => expect(Math.abs(g - cpu.gamma[c])).toBeLessThanOrEqual(atol + 1e-4 * Math.abs(cpu.gamma[c])));
      point.beta.forEach((b, c) => expect(Math.abs(b - cpu.beta[c])).toBeLessThanOrEqual(atol + 1e-4 * Math.abs(cpu.beta[c])));
    });
  });
});
