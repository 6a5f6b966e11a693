/**
 * The life of the GPU host process: a crash of it costs a fallback to the CPU path, never the
 * application; the application ends the way it would without the library (return, process.exit,
 * an uncaught exception) and the host follows it; and the published files load in plain Node.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadNodeLib, nodeGpu, describeNodeGpu, runScript, waitForExit, type NodeLib } from './support';

describe('the published build in plain Node (no GPU needed)', () => {
  it('dist/index.js loads in plain Node ESM and runs the CPU path', async () => {
    const run = await runScript(`
      import { createBatchNorm } from './index.js';
      const bn = await createBatchNorm();
      const out = await bn.forwardTrain(new Float32Array([1, 2, 3, 5]), { shape: [4, 1] });
      console.log(JSON.stringify({ backend: bn.backend, mean: out.mean[0] }));
    `);
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({ backend: 'cpu', mean: 2.75 });
  });

  it("backend 'auto' without a usable Dawn stays on the CPU path; 'webgpu' says why", async () => {
    const lib = await loadNodeLib();
    const bn = await lib.createNodeBatchNorm({ dawnModule: 'no-such-dawn-package' });
    expect(bn.backend).toBe('cpu');
    expect(bn.hostPid).toBeUndefined();
    expect((await bn.forwardTrain(new Float32Array([1, 2, 3, 5]), { shape: [4, 1] })).mean[0]).toBe(2.75);
    await bn.dispose();
    const error = await lib.createNodeBatchNorm({ backend: 'webgpu', dawnModule: 'no-such-dawn-package' }).catch((e: unknown) => e);
    expect((error as { code: string }).code).toBe('webgpu-unavailable');
    expect((error as Error).message).toMatch(/no-such-dawn-package/);
    await expect(lib.createNodeBatchNorm({ backend: 'tpu' as 'cpu' })).rejects.toMatchObject({ code: 'invalid-option' });
    const cpuOnly = await lib.createNodeBatchNorm({ backend: 'cpu' });
    expect(cpuOnly.backend).toBe('cpu');
    await cpuOnly.dispose();
    await expect(cpuOnly.forwardTrain(new Float32Array(4), { shape: [2, 2] })).rejects.toMatchObject({ code: 'disposed' });
  });
});

describeNodeGpu('the GPU host process', () => {
  let lib: NodeLib;
  beforeAll(async () => {
    lib = await loadNodeLib();
  });

  it('takes arrays of numbers, a 1-D input, the ONNX convention and eps 0 as the in-process engine does', async () => {
    const bn = await lib.createNodeBatchNorm({ backend: 'webgpu', env: nodeGpu.env });
    const x = Array.from({ length: 999 }, (_, i) => Math.sin(i) * 3 + 0.1);
    const opts = { shape: [999], convention: 'onnx' as const, eps: 0, runningMean: [0], runningVar: [1], gamma: [1.5], beta: [0.25] };
    const fromNumbers = await bn.forwardTrain(x, opts);
    // The same values as Float32Arrays give the very same bits: the arrays are converted once, to float32.
    const f32 = { ...opts, runningMean: Float32Array.of(0), runningVar: Float32Array.of(1), gamma: Float32Array.of(1.5), beta: Float32Array.of(0.25) };
    expect(fromNumbers).toEqual(await bn.forwardTrain(Float32Array.from(x), f32));
    expect(bn.backend).toBe('webgpu');
    const cpu = await lib.createBatchNorm({ backend: 'cpu' });
    const reference = await cpu.forwardTrain(x, opts);
    // ONNX: 0.9·1 + 0.1·(biased variance). docs/numerics.md bounds the GPU's variance of these 999
    // values (R ≈ 1.4, one thread's chain) by ~800 ε ≈ 5e-5 relative, so 0.1·var (≈ 0.45) by ~2e-5,
    // and the mean (σ ≈ 2.1) by ~1e-5: both within 5e-4 of the CPU path's.
    expect(fromNumbers.runningVar[0]).toBeCloseTo(reference.runningVar[0], 3);
    expect(fromNumbers.mean[0]).toBeCloseTo(reference.mean[0], 3);
    cpu.dispose();
    await bn.dispose();
  });

  it("takes dtype 'float16' (Uint16Array bits) and returns float16 as the in-process engine does", async () => {
    const bn = await lib.createNodeBatchNorm({ backend: 'webgpu', env: nodeGpu.env });
    const x = lib.encodeFloat16Bits(Array.from({ length: 3 * 4 * 7 }, (_, i) => Math.sin(i) * 3 + 0.1)); // 84 values, NCL
    const opts = { shape: [3, 4, 7], layout: 'NCL' as const, dtype: 'float16' as const, activation: 'relu' as const };
    const out = await bn.forwardTrain(x, opts);
    expect(out.y).toBeInstanceOf(Uint16Array);
    const back = await bn.backward(x, x, opts, out);
    expect(back.dx).toBeInstanceOf(Uint16Array);
    // The host's device decides between the float16 kernels and the CPU path. The CPU path rounds
    // to nearest (≤ half an ulp from the exact y), a GPU to either neighbour of its float32 y (≤ one
    // ulp, the float32 error far below): together < 2 ulps, 2^-9 relative, and 2^-13 where float16
    // is subnormal (a flushed subnormal on one side).
    const cpu = await lib.createBatchNorm({ backend: 'cpu' });
    const reference = await cpu.forwardTrain(x, opts);
    const [y, yRef] = [lib.decodeFloat16(out.y), lib.decodeFloat16(reference.y)];
    for (let i = 0; i < y.length; i++) expect(Math.abs(y[i] - yRef[i])).toBeLessThanOrEqual(2 ** -9 * Math.abs(yRef[i]) + 2 ** -13);
    cpu.dispose();
    await bn.dispose();
  });

  it('a crash of the host moves the calls in flight to the CPU path, once, and recover() comes back', async () => {
    const bn = await lib.createNodeBatchNorm({ backend: 'webgpu', env: nodeGpu.env });
    const lost: { reason: string; message: string }[] = [];
    bn.addEventListener('devicelost', (e) => lost.push((e as CustomEvent).detail));
    const shape = [16, 32, 32, 32];
    const x = Float32Array.from({ length: 16 * 32 * 32 * 32 }, (_, i) => Math.sin(i));
    const cpu = await lib.createBatchNorm({ backend: 'cpu' });
    const expected = await cpu.forwardTrain(x, { shape, layout: 'NHWC' });
    const pid = bn.hostPid!;
    const inFlight = [bn.forwardTrain(x, { shape, layout: 'NHWC' }), bn.forwardTrain(x, { shape, layout: 'NHWC' })];
    process.kill(pid, 'SIGSEGV'); // what a Dawn crash looks like from here
    const results = await Promise.all(inFlight);
    for (const r of results) expect(Array.from(r.mean)).toEqual(Array.from(expected.mean));
    expect(bn.backend).toBe('cpu');
    expect(lost).toEqual([{ reason: 'host-exited', message: expect.stringContaining('SIGSEGV') }]);
    expect(await waitForExit(pid)).toBe(true);

    const recovered: unknown[] = [];
    bn.addEventListener('recovered', (e) => recovered.push((e as CustomEvent).detail));
    expect(await Promise.all([bn.recover(), bn.recover()])).toEqual(['webgpu', 'webgpu']); // one new host
    expect(bn.backend).toBe('webgpu');
    expect(recovered).toHaveLength(1);
    const again = await bn.forwardTrain(x, { shape, layout: 'NHWC' });
    for (let c = 0; c < 32; c++) expect(again.mean[c]).toBeCloseTo(expected.mean[c], 5);
    await bn.dispose();
    cpu.dispose();
  });

  it('dispose() ends the host and rejects what was still waiting with disposed', async () => {
    const bn = await lib.createNodeBatchNorm({ backend: 'webgpu', env: nodeGpu.env });
    const pid = bn.hostPid!;
    const x = new Float32Array(1 << 20).fill(1);
    const waiting = bn.forwardTrain(x, { shape: [1 << 18, 4] }).then(() => 'resolved', (e: unknown) => e);
    await bn.dispose();
    expect(await waiting).toMatchObject({ code: 'disposed' });
    expect(await waitForExit(pid, 5_000)).toBe(true);
    await expect(bn.forwardInference(x, { shape: [1 << 18, 4] })).rejects.toMatchObject({ code: 'disposed' });
    await bn.dispose(); // twice is fine
  });

  // The endings of an application that forgot dispose(), or was interrupted with GPU work in flight.
  const prelude = `
    import { createNodeBatchNorm } from './node.js';
    const bn = await createNodeBatchNorm({ backend: 'webgpu', env: ${JSON.stringify(nodeGpu.env)} });
    console.log('host ' + bn.hostPid);
    const shape = [16, 32, 32, 32];
    const x = Float32Array.from({ length: 16 * 32 * 32 * 32 }, (_, i) => Math.sin(i));
    await bn.forwardTrain(x, { shape, layout: 'NHWC' });
    const inFlight = [1, 2, 3].map(() => bn.forwardTrain(x, { shape, layout: 'NHWC' }));
    const end = performance.now() + 300; let s = 0; while (performance.now() < end) s += Math.sqrt(s + 1);
  `;
  const endings = [
    { name: 'returns without dispose once idle', tail: `await Promise.all(inFlight); console.log('idle');`, code: 0, stdout: /idle/ },
    { name: 'calls process.exit() with GPU work in flight', tail: `process.exit(0);`, code: 0, stdout: /host/ },
    { name: 'throws with GPU work in flight', tail: `throw new Error('the application failed');`, code: 1, stdout: /host/, stderr: /the application failed/ },
  ];
  it.each(endings.map((e) => [e.name, e] as const))('an application that %s ends normally, and so does the host', async (_name, ending) => {
    const run = await runScript(prelude + ending.tail);
    expect(run.signal).toBeNull();
    expect(run.code).toBe(ending.code);
    expect(run.stdout).toMatch(ending.stdout);
    if (ending.stderr) expect(run.stderr).toMatch(ending.stderr);
    else expect(run.stderr).toBe('');
    const pid = Number(/host (\d+)/.exec(run.stdout)![1]);
    expect(await waitForExit(pid, 10_000)).toBe(true);
  });

  it('in-process Dawn (createBatchNorm({ gpu })) works for a short script that disposes before it ends', async () => {
    // The documented in-process path: the variables must be set before Node starts (the Vulkan loader
    // reads LD_LIBRARY_PATH once), so this runs in its own process.
    const run = await runScript(`
      import { create, globals } from 'webgpu';
      import { createBatchNorm } from './index.js';
      Object.assign(globalThis, globals);
      const bn = await createBatchNorm({ backend: 'webgpu', gpu: create([]) });
      const out = await bn.forwardTrain(new Float32Array([1, 2, 3, 5]), { shape: [4, 1] });
      console.log(JSON.stringify({ backend: bn.backend, mean: out.mean[0] }));
      bn.dispose();
    `, nodeGpu.env);
    expect(run.signal).toBeNull();
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ backend: 'webgpu', mean: 2.75 });
  });
});
