import { describe, expect, it } from 'vitest';
import { conventionDefaults, runningUpdate } from '../../src/conventions';

describe('running-statistics conventions', () => {
  it('has the defaults of torch.nn.BatchNorm*d and keras.layers.BatchNormalization', () => {
    expect(conventionDefaults.pytorch).toEqual({ eps: 1e-5, momentum: 0.1 });
    expect(conventionDefaults.keras).toEqual({ eps: 1e-3, momentum: 0.99 });
  });

  it('pytorch: (1 − m)·running + m·stat, variance made unbiased with M / (M − 1)', () => {
    const u = runningUpdate('pytorch', 0.1, 5);
    expect(u.keep).toBe(0.9);
    expect(u.take).toBe(0.1);
    expect(u.varianceFactor).toBe(1.25);
    // rm = 2, mean = 7: 0.9·2 + 0.1·7 = 2.5; rv = 1, biased var 4: 0.9·1 + 0.1·4·5/4 = 1.4
    expect(u.keep * 2 + u.take * 7).toBeCloseTo(2.5, 15);
    expect(u.keep * 1 + u.take * 4 * u.varianceFactor).toBeCloseTo(1.4, 15);
    expect(runningUpdate('pytorch', 0.25, 2)).toEqual({ keep: 0.75, take: 0.25, varianceFactor: 2 });
  });

  it('keras: m·running + (1 − m)·stat with the biased variance', () => {
    const u = runningUpdate('keras', 0.99, 5);
    expect(u.keep).toBe(0.99);
    expect(u.take).toBe(1 - 0.99);
    expect(u.varianceFactor).toBe(1);
    // rm = 2, mean = 7: 0.99·2 + 0.01·7 = 2.05; rv = 1, var 4: 0.99 + 0.04 = 1.03
    expect(u.keep * 2 + u.take * 7).toBeCloseTo(2.05, 14);
    expect(u.keep * 1 + u.take * 4 * u.varianceFactor).toBeCloseTo(1.03, 14);
    expect(runningUpdate('keras', 0.75, 2)).toEqual({ keep: 0.75, take: 0.25, varianceFactor: 1 });
  });

  it('momentum 0 and 1 are the two extremes of each convention', () => {
    expect(runningUpdate('pytorch', 0, 8)).toMatchObject({ keep: 1, take: 0 });
    expect(runningUpdate('pytorch', 1, 8)).toMatchObject({ keep: 0, take: 1 });
    expect(runningUpdate('keras', 0, 8)).toMatchObject({ keep: 0, take: 1 });
    expect(runningUpdate('keras', 1, 8)).toMatchObject({ keep: 1, take: 0 });
  });
});
