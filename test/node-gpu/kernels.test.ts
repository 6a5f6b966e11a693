/**
 * The library's kernels on Dawn in Node, through createNodeBatchNorm (the GPU in a host process),
 * against the float64 reference; and the scenario: this thread busy for 300 ms at a time
 * while GPU work is in flight.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { inferenceChecks, trainChecks } from '../support/forward-checks';
import { anyAdapterStatisticsTerms } from '../support/tolerances';
import { channelView } from '../../src/layout';
import { caseSeed, channelNormals, createRng, normals, seedFromEnv } from '../support/random';
import type { ReferenceParams } from '../support/reference';
import { splitShape } from '../support/channel-index';
import { busy, loadNodeLib, nodeGpu, describeNodeGpu, type NodeLib } from './support';
import type { Layout } from '../../src/types';

const seed = seedFromEnv();

function inputs(name: string, shape: number[], layout: Layout | undefined, center = 0) {
  const rng = createRng(caseSeed(seed, name));
  const { channels } = splitShape(shape, layout);
  const means = Array.from({ length: channels }, () => center + rng.normal());
  const stds = Array.from({ length: channels }, () => 0.5 + rng.uniform());
  return {
    x: channelNormals(rng, shape, layout, means, stds),
    gamma: normals(rng, channels, 1, 0.5),
    beta: normals(rng, channels, 0, 0.5),
    runningMean: Float32Array.from(means, (m) => m + 0.1 * rng.normal()),
    runningVar: Float32Array.from(stds, (s) => s * s * (0.5 + rng.uniform())),
    dy: channelNormals(rng, shape, layout, means.map(() => 0), stds.map(() => 1)),
  };
}

const cases: { shape: number[]; layout: Layout; convention: 'pytorch' | 'keras'; activation: 'none' | 'relu' }[] = [
  { shape: [37, 5], layout: 'NC', convention: 'pytorch', activation: 'none' },
  { shape: [5, 3, 131], layout: 'NCL', convention: 'keras', activation: 'relu' },
  { shape: [5, 7, 8], layout: 'NLC', convention: 'pytorch', activation: 'relu' },
  { shape: [3, 5, 31, 17], layout: 'NCHW', convention: 'keras', activation: 'none' },
  { shape: [8, 16, 16, 32], layout: 'NHWC', convention: 'pytorch', activation: 'relu' },
  { shape: [1, 2, 3, 5, 11], layout: 'NCDHW', convention: 'pytorch', activation: 'none' },
  { shape: [3, 2, 2, 3, 5], layout: 'NDHWC', convention: 'keras', activation: 'relu' },
];

describeNodeGpu('createNodeBatchNorm: the kernels on Dawn, in a GPU host process', () => {
  let lib: NodeLib;
  let bn: Awaited<ReturnType<NodeLib['createNodeBatchNorm']>>;
  let cpu: Awaited<ReturnType<NodeLib['createBatchNorm']>>;
  beforeAll(async () => {
    lib = await loadNodeLib();
    bn = await lib.createNodeBatchNorm({ backend: 'webgpu', env: nodeGpu.env });
    cpu = await lib.createBatchNorm({ backend: 'cpu' });
  });
  afterAll(async () => {
    await bn?.dispose();
    cpu?.dispose();
  });

  it('runs on the GPU, with the adapter the setup found', () => {
    expect(bn.backend).toBe('webgpu');
    expect(bn.hostPid).toBeTypeOf('number');
    expect(bn.hostPid).not.toBe(process.pid);
    if (nodeGpu.available) expect(nodeGpu.adapterDescription).toContain(bn.adapter!.description);
  });

  it.each(cases.map((c) => [`${c.layout} [${c.shape}] ${c.convention} ${c.activation}`, c] as const))('forward %s matches the float64 reference', async (name, c) => {
    const data = inputs(name, c.shape, c.layout);
    const params: ReferenceParams = {
      shape: c.shape,
      layout: c.layout,
      gamma: data.gamma,
      beta: data.beta,
      eps: c.convention === 'keras' ? 1e-3 : 1e-5,
      momentum: c.convention === 'keras' ? 0.99 : 0.1,
      convention: c.convention,
      activation: c.activation,
      runningMean: data.runningMean,
      runningVar: data.runningVar,
    };
    const opts = { ...params, shape: c.shape, layout: c.layout, gamma: data.gamma, beta: data.beta, runningMean: data.runningMean, runningVar: data.runningVar };
    const train = await bn.forwardTrain(data.x, opts);
    const inference = await bn.forwardInference(data.x, opts);
    const checks = [...trainChecks(data.x, params, train, 'node-host', anyAdapterStatisticsTerms(channelView(c.shape, c.layout))), ...inferenceChecks(data.x, params, inference, 'node-host')];
    expect(checks.filter((k) => k.failure !== null).map((k) => k.failure)).toEqual([]);
  });

  it.each(cases.map((c) => [`${c.layout} [${c.shape}] ${c.activation}`, c] as const))('backward and channel statistics %s agree with the CPU path', async (name, c) => {
    const data = inputs(name, c.shape, c.layout);
    const opts = { shape: c.shape, layout: c.layout, gamma: data.gamma, beta: data.beta, activation: c.activation };
    const saved = await cpu.forwardTrain(data.x, opts);
    const gpu = await bn.backward(data.dy, data.x, opts, saved);
    const ref = await cpu.backward(data.dy, data.x, opts, saved);
    const scale = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    for (const key of ['dx', 'dgamma', 'dbeta'] as const) {
      const tol = 1e-4 * (scale(ref[key]) + 1);
      const worst = gpu[key].reduce((m, v, i) => Math.max(m, Math.abs(v - ref[key][i])), 0);
      expect(worst, key).toBeLessThan(tol);
    }
    const stats = await bn.channelStatistics(data.x, opts);
    const cpuStats = await cpu.channelStatistics(data.x, opts);
    expect(stats.count).toBe(cpuStats.count);
    for (let ch = 0; ch < cpuStats.mean.length; ch++) {
      expect(stats.mean[ch]).toBeCloseTo(cpuStats.mean[ch], 4);
      expect(Math.abs(stats.m2[ch] - cpuStats.m2[ch])).toBeLessThan(1e-4 * cpuStats.m2[ch] + 1e-6);
    }
  });

  it('reports BatchNormErrors from the host with their code, and keeps working', async () => {
    const error = await bn.forwardTrain(new Float32Array(3), { shape: [2, 2] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(lib.BatchNormError);
    expect((error as InstanceType<NodeLib['BatchNormError']>).code).toBe('length-mismatch');
    const shape = await bn.forwardTrain(new Float32Array(4), { shape: [2, -2] }).catch((e: unknown) => e);
    expect((shape as InstanceType<NodeLib['BatchNormError']>).code).toBe('invalid-shape');
    const ok = await bn.forwardTrain(new Float32Array([1, 2, 3, 5]), { shape: [4, 1] });
    expect(Array.from(ok.mean)).toEqual([2.75]);
    expect(bn.backend).toBe('webgpu');
  });

  it('sends only what a subarray covers, and leaves inputs untouched', async () => {
    const whole = Float32Array.from({ length: 1 << 16 }, (_, i) => i % 7);
    const view = whole.subarray(8, 8 + 6 * 4);
    const copy = view.slice();
    const out = await bn.forwardTrain(view, { shape: [6, 4] });
    const ref = await cpu.forwardTrain(copy, { shape: [6, 4] });
    expect(Array.from(view)).toEqual(Array.from(copy));
    for (let i = 0; i < ref.y.length; i++) expect(out.y[i]).toBeCloseTo(ref.y[i], 5);
  });

  it('the issue: this thread busy for 300 ms at a time while GPU work is in flight, 10 rounds', async () => {
    const shape = [16, 32, 32, 32];
    const data = inputs('busy', shape, 'NHWC', 3);
    const opts = { shape, layout: 'NHWC' as const, gamma: data.gamma, beta: data.beta, runningMean: data.runningMean, runningVar: data.runningVar };
    const expected = await cpu.forwardTrain(data.x, opts);
    for (let round = 0; round < 10; round++) {
      const inFlight = Promise.all([bn.forwardTrain(data.x, opts), bn.forwardInference(data.x, opts), bn.channelStatistics(data.x, opts)]);
      busy(300);
      const [train] = await inFlight;
      busy(300);
      expect(bn.backend).toBe('webgpu');
      let worst = 0;
      for (let i = 0; i < train.y.length; i += 97) worst = Math.max(worst, Math.abs(train.y[i] - expected.y[i]));
      expect(worst).toBeLessThan(1e-4);
    }
  });

  it('many calls in flight at once come back to their callers', async () => {
    const calls = Array.from({ length: 24 }, (_, k) => {
      const x = Float32Array.from({ length: 4 * (k + 2) }, (_, i) => i * (k + 1));
      return bn.forwardTrain(x, { shape: [k + 2, 4] }).then((r) => ({ k, r, x }));
    });
    for (const { k, r, x } of await Promise.all(calls)) {
      const ref = await cpu.forwardTrain(x, { shape: [k + 2, 4] });
      for (let c = 0; c < 4; c++) expect(r.mean[c]).toBeCloseTo(ref.mean[c], 3);
    }
  });
});
