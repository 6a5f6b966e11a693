import { expect, it } from 'vitest';
import { describeGpu, useHarness } from '../support/browser';
import { seedFromEnv } from '../support/random';

const seed = seedFromEnv();
console.log(`recovery GPU tests: TEST_SEED=${seed}`);

describeGpu('device loss in the middle of training (TrainingMirror)', () => {
  const harness = useHarness();

  it('loses nothing: CPU twins take over the last committed step bit for bit, recover() moves it back bit for bit', async () => {
    const spec = { seed, steps: 24, lossAfter: 8, recoverAfter: 14 };
    const r = await harness().call('recoveryCase', spec);
    console.log(
      `snapshot cost (SwiftShader, C = 32, ${r.cost.elements} values, ${r.cost.snapshotBytes} bytes per snapshot): ` +
        `median ${r.cost.plainMs.toFixed(2)} ms per step without capture(), ${r.cost.mirroredMs.toFixed(2)} ms with ` +
        `(${(((r.cost.mirroredMs - r.cost.plainMs) / r.cost.plainMs) * 100).toFixed(1)}%); fastest repetition ${r.cost.plainMinMs.toFixed(2)} vs ${r.cost.mirroredMinMs.toFixed(2)} ms; ` +
        `capture() itself ${(r.cost.captureHostMs * 1000).toFixed(0)} µs on the main thread (${r.cost.stepsTimed} steps each way)`,
    );
    console.log(`loss after step ${r.stepAtLoss}: resumed after committed step ${r.resumedAfter}; ${r.stepsOnCpu} steps on the CPU; counts ${JSON.stringify(r.mirrorCounts)}`);
    // The listeners of 'devicelost' already see the mirror on its CPU twins.
    expect(r.events.map((e) => [e.kind, e.mirrorBackend])).toEqual([
      ['devicelost', 'cpu'],
      ['recovered', 'webgpu'],
      ['devicelost', 'cpu'],
      ['recovered', 'webgpu'],
    ]);
    expect(r.events[0].reason).toBe('destroyed');
    // Three steps were submitted back to back and lost in flight; the mirror resumed before them…
    expect(r.resumedAfter).toBe(spec.lossAfter - 3);
    // …with exactly the state the control run had after that step: nothing committed is lost.
    expect(r.takeoverVsControl).toEqual([]);
    // CPU → GPU: the new device holds the CPU twins' state bit for bit …
    expect(r.recoveredVsCpu).toEqual([]);
    // … and a loss before any capture there commits falls back to that same state.
    expect(r.secondTakeoverStep).toBe(spec.recoverAfter);
    expect(r.secondTakeoverVsCpu).toEqual([]);
    expect(r.stepsOnCpu).toBe(spec.recoverAfter - r.resumedAfter);
    expect(r.finalBackend).toBe('webgpu');
    // The replayed and CPU steps round differently from the control run's GPU steps; the loss is a
    // contraction, so the runs end within float32 noise of each other (training.test.ts's rtol 1e-4
    // + atol 1e-5), with identical step counts.
    for (const [kind, used] of Object.entries(r.finalDeviation)) expect(used, kind).toBeLessThanOrEqual(1);
    expect(r.mirrorCounts.takeovers).toBe(2);
    expect(r.mirrorCounts.recoveries).toBe(2);
  });
});
