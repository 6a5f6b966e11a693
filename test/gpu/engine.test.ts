import { expect, it } from 'vitest';
import { describeGpu, useHarness } from '../support/browser';
import { seedFromEnv } from '../support/random';

const seed = seedFromEnv();

describeGpu('engine: devices and fallback', () => {
  const harness = useHarness();

  it('continues on the CPU path after device loss, says so, and never destroys a borrowed device', async () => {
    const report = await harness().call('deviceLostCase', { seed });
    expect(report.backendBefore).toBe('webgpu');
    expect(report.backendAfter).toBe('cpu');
    expect(report.events).toHaveLength(1);
    expect(report.events[0].reason).toBe('destroyed');
    // CPU path: float64 accumulation, float32 outputs; a call in flight at the loss is redone there
    // (GPU tolerance: its result may also have been read back before the loss took effect).
    expect(report.errInFlight).toBeLessThan(1e-5);
    expect(report.errAfterLoss).toBeLessThan(1e-6);
    expect(report.runningVarErr).toBeLessThan(1e-6);
    expect(report.borrowedBackend).toBe('webgpu');
    expect(report.borrowedAliveAfterDispose).toBe(true);
    expect(report.cpuBackend).toBe('cpu');
  });
});
