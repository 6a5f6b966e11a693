import { expect, it } from 'vitest';
import { describeGpu, useHarness } from '../support/browser';

describeGpu('GPU errors surface as BatchNormErrors and leave the engine usable', () => {
  const harness = useHarness();

  it('out of memory in a host-array call and in GPU-resident calls, a validation error, then normal calls', async () => {
    const { oomReproducible, host, resident, optimizer } = await harness().call('gpuErrorsCase');
    if (!oomReproducible) {
      // Real GPUs may grant 1 GiB; the out-of-memory cases need an adapter that refuses it.
      console.warn('gpu-errors: this adapter grants a 1 GiB buffer, so no out-of-memory error can be provoked; skipped');
      return;
    }
    console.log(`host call: ${host.message.split('\n')[0]}\nresident: ${resident.oomMessage.split('\n').slice(0, 2).join(' | ')}\nvalidation: ${resident.validationMessage.split('\n').slice(0, 2).join(' | ')}`);
    expect(host.code).toBe('gpu-error');
    // The root cause first, naming the buffer it could not make.
    expect(host.message).toMatch(/^forwardTrain: GPU out of memory: .*BatchNorm\.pool\.x\[1073741824\]/s);
    // Error scopes are popped before the first await: a concurrent call is not blamed, nor failed.
    expect(host.concurrentOk).toBe(true);
    expect(host.afterOk).toBe(true);
    // The failed call's buffers were destroyed, not pooled: only a normal call's few remain.
    expect(host.poolBuffersAfter).toBeLessThan(40);
    expect(resident.oomCode).toBe('gpu-error');
    expect(resident.oomMessage).toMatch(/encodeForwardTrain: GPU out of memory/);
    expect(resident.validationCode).toBe('gpu-error');
    expect(resident.validationMessage).toMatch(/encodeForwardTrain: GPU validation error/);
    expect(resident.afterOk).toBe(true);
    expect(resident.cleanCheck).toBe('accepted');
    console.log(`optimizer: ${optimizer.message.split('\n').slice(0, 2).join(' | ')}`);
    expect(optimizer.code).toBe('gpu-error');
    expect(optimizer.message).toMatch(/addParam\(foreign\) \(not registered\): GPU validation error/);
    expect(optimizer.registered).toBe(1);
    expect(optimizer.stepOk).toBe(true);
    expect(optimizer.cleanCheck).toBe('accepted');
  });
});
