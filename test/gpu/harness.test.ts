import { expect, it } from 'vitest';
import { adapterInfo, describeGpu, useHarness } from '../support/browser';

describeGpu('harness page', () => {
  const harness = useHarness();

  it('answers calls with their JSON result', async () => {
    const arg = { text: 'hi', values: [1, -2.5, 0], nested: { ok: true } };
    expect(await harness().call('ping', arg)).toEqual({ pong: arg });
  });

  it('gets a WebGPU adapter and reports what it offers', async () => {
    const report = await harness().call('adapterInfo');
    if (!report.available) throw new Error(report.reason);
    expect(report).toEqual(adapterInfo());
    // Every kernel needs storage buffers and 256-invocation workgroups; check they are really there.
    expect(report.limits.maxComputeInvocationsPerWorkgroup).toBeGreaterThanOrEqual(256);
    expect(report.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
  });
});
