import { afterAll, beforeAll, expect, it } from 'vitest';
import { defaultTuning } from '../../src/gpu/tuning';
import type { NormCase } from './page/norms-case';
import { describeGpu, openHarness, type HarnessPage } from '../support/browser';
import { seedsFromEnv } from '../support/random';
import { recordSweepCase } from '../support/sweep-log';

const seeds = seedsFromEnv();
const seed = seeds[0];
console.log(`norms GPU tests: TEST_SEED${seeds.length > 1 ? `S=${seeds[0]}-${seeds[seeds.length - 1]}` : `=${seed}`}`);

type Shape = Pick<NormCase, 'shape' | 'normalized' | 'groups'>;

/**
 * Odd shapes per kind: D = 1, a single row, primes, D no multiple of 4 or of the workgroup size,
 * each vec4 entry point of the apply (vec4 runs, vec4 parameter blocks), G = 1 and G = C.
 */
const shapes: Record<NormCase['kind'], Shape[]> = {
  layer: [{ shape: [3, 7] }, { shape: [5, 1] }, { shape: [1, 13] }, { shape: [4, 3, 17], normalized: 2 }, { shape: [6, 64] }, { shape: [2, 3, 260] }],
  rms: [{ shape: [2, 5, 11] }, { shape: [1, 97] }, { shape: [7, 1] }, { shape: [3, 8] }, { shape: [2, 2, 3, 5], normalized: 3 }, { shape: [9, 68] }],
  group: [
    { shape: [2, 6, 5], groups: 3 },
    { shape: [3, 4, 7, 3], groups: 2 },
    { shape: [1, 8, 4], groups: 8 },
    { shape: [2, 5, 3], groups: 1 },
    { shape: [2, 12], groups: 4 },
    { shape: [2, 8, 16], groups: 2 },
  ],
  instance: [{ shape: [2, 3, 7] }, { shape: [1, 5, 8] }, { shape: [3, 2, 1, 1] }, { shape: [2, 4, 13, 3] }, { shape: [1, 1, 29] }],
};

const activations = ['none', 'relu', 'gelu', 'gelu-tanh', 'silu'] as const;
const kinds = ['layer', 'rms', 'group', 'instance'] as const;

/** Every kind × activation × residual, on a rotation of the kind's odd shapes. */
function matrix(): NormCase[] {
  return kinds.flatMap((kind) =>
    activations.flatMap((activation, a) =>
      [false, true].map((residual, r): NormCase => {
        const shape = shapes[kind][(2 * a + r) % shapes[kind].length];
        return { name: `${kind} [${shape.shape}]${shape.groups ? ` G=${shape.groups}` : ''} ${activation}${residual ? ' residual' : ''}`, seed, kind, activation, residual, ...shape };
      }),
    ),
  );
}

const special: NormCase[] = [
  // Large means: the row statistics keep their digits (pivoted moments), x − mean is taken first.
  ...kinds.map((kind, k): NormCase => {
    const shape: Shape = { layer: { shape: [16, 250] }, rms: { shape: [8, 131] }, group: { shape: [4, 6, 37], groups: 3 }, instance: { shape: [3, 4, 64] } }[kind];
    return { name: `${kind} mean 1e4 ± 1`, seed, kind, activation: activations[k + 1], mean: 1e4, std: 1, ...shape };
  }),
  // D = 1 over a multiple of 4 rows: the statistics' 'Rows' plan with four rows per vec4.
  { name: 'layer [8, 1] (D = 1, vec4 rows)', seed, kind: 'layer', activation: 'relu', residual: true, shape: [8, 1] },
  { name: 'layer no affine', seed, kind: 'layer', activation: 'gelu', affine: false, shape: [5, 33] },
  { name: 'group no affine, tiny values, eps 1e-12', seed, kind: 'group', activation: 'none', affine: false, shape: [2, 4, 9], groups: 2, std: 1e-3, eps: 1e-12 },
  // > 65 535 rows: with workgroup sums (runSegments false, the GPUs' way) the statistics' workgroup
  // per row chunk and the backward's workgroup per row exceed 65 535 workgroups (2-D grids; 4-thread
  // workgroups keep the software adapter fast); the adapter's tuning takes a thread per row.
  { name: 'layer 70001 rows', seed, kind: 'layer', activation: 'silu', residual: true, shape: [70001, 3] },
  { name: 'layer 70001 rows, workgroup sums (grids above 65 535 workgroups)', seed, kind: 'layer', activation: 'gelu', shape: [70001, 5], tuning: { runSegments: false, workgroupSize: 4 } },
  // … and the apply above 65 535 workgroups: 4-thread workgroups, one value each.
  { name: 'rms apply above 65 535 workgroups', seed, kind: 'rms', activation: 'relu', shape: [513, 512], tuning: { workgroupSize: 4, applyUnitsPerThread: 1 } },
  // Instance norm with 70 001 channels: the backward's workgroup per parameter above 65 535.
  { name: 'instance 70001 channels (parameter grid above 65 535)', seed, kind: 'instance', activation: 'gelu-tanh', shape: [2, 70001, 2] },
  // The launch plans of real GPUs (workgroups of 256, short statistics threads, workgroup sums).
  ...kinds.map((kind, k): NormCase => {
    const shape: Shape = { layer: { shape: [33, 1000] }, rms: { shape: [4, 4096] }, group: { shape: [4, 32, 9, 7], groups: 8 }, instance: { shape: [2, 8, 33, 31] } }[kind];
    return { name: `${kind} GPU tuning`, seed, kind, activation: activations[(k + 2) % 5], residual: k % 2 === 0, tuning: { ...defaultTuning, oneDispatch: false }, ...shape };
  }),
  // The barrier-tree workgroup sums (the adapter here has subgroups, which the others use), small workgroups.
  { name: 'layer barrier tree, workgroupSize 4', seed, kind: 'layer', activation: 'gelu', residual: true, shape: [7, 45], tuning: { useSubgroups: false, workgroupSize: 4 } },
  { name: 'group barrier tree', seed, kind: 'group', activation: 'relu', shape: [3, 6, 19], groups: 2, tuning: { useSubgroups: false } },
  { name: 'instance subgroups, workgroupSize 4', seed, kind: 'instance', activation: 'silu', residual: true, shape: [2, 3, 50], tuning: { workgroupSize: 4 } },
  // Instance norm's running statistics: updated from the kernels' row statistics (training), or
  // normalized by (inference: the apply alone, on the running statistics laid out per row; the
  // backward's dx without row terms).
  { name: 'instance running stats, training', seed, kind: 'instance', activation: 'gelu', residual: true, shape: [3, 5, 7, 2], running: 'train' },
  { name: 'instance running stats, training, keras, mean 1e4 ± 1', seed, kind: 'instance', activation: 'none', shape: [2, 4, 33], mean: 1e4, std: 1, running: 'train', convention: 'keras' },
  { name: 'instance running stats, inference', seed, kind: 'instance', activation: 'silu', residual: true, shape: [2, 3, 13], running: 'eval' },
  { name: 'instance running stats, inference, vec4 runs', seed, kind: 'instance', activation: 'relu', shape: [4, 6, 8], running: 'eval' },
  { name: 'instance running stats, inference, channels last', seed, kind: 'instance', channelsLast: true, activation: 'gelu', residual: true, shape: [2, 5, 3, 4], running: 'eval' },
  // Channels last (NLC, NHWC, NDHWC): a row is spatial blocks of C/G values, C apart. Scalar and vec4
  // statistics (C/G % 4), the apply's vec4 channel blocks, G = 1, G = C, primes, large means.
  { name: 'channels last: group NLC G=3', seed, kind: 'group', channelsLast: true, activation: 'silu', residual: true, shape: [2, 5, 6], groups: 3 },
  { name: 'channels last: group NHWC vec4 blocks', seed, kind: 'group', channelsLast: true, activation: 'gelu', shape: [3, 4, 3, 8], groups: 2 },
  { name: 'channels last: group NDHWC G=1', seed, kind: 'group', channelsLast: true, activation: 'relu', shape: [1, 2, 3, 2, 12], groups: 1 },
  { name: 'channels last: group NHWC G=C', seed, kind: 'group', channelsLast: true, activation: 'none', residual: true, shape: [2, 3, 5, 6], groups: 6 },
  { name: 'channels last: group NLC primes', seed, kind: 'group', channelsLast: true, activation: 'gelu-tanh', shape: [3, 11, 14], groups: 7 },
  { name: 'channels last: instance NLC primes', seed, kind: 'instance', channelsLast: true, activation: 'gelu-tanh', residual: true, shape: [2, 13, 7] },
  { name: 'channels last: instance NHWC', seed, kind: 'instance', channelsLast: true, activation: 'relu', residual: true, shape: [2, 3, 3, 8] },
  { name: 'channels last: group NHWC mean 1e4 ± 1', seed, kind: 'group', channelsLast: true, activation: 'none', shape: [2, 6, 5, 12], groups: 3, mean: 1e4, std: 1 },
  { name: 'channels last: instance NLC mean 1e4 ± 1', seed, kind: 'instance', channelsLast: true, activation: 'silu', shape: [3, 40, 5], mean: 1e4, std: 1 },
  { name: 'channels last: group NHWC GPU tuning', seed, kind: 'group', channelsLast: true, activation: 'silu', residual: true, shape: [4, 9, 7, 32], groups: 8, tuning: { ...defaultTuning, oneDispatch: false } },
  { name: 'channels last: group barrier tree, workgroupSize 4', seed, kind: 'group', channelsLast: true, activation: 'gelu', shape: [2, 9, 12], groups: 4, tuning: { useSubgroups: false, workgroupSize: 4 } },
  // 70 001 rows: the statistics' workgroup per row above 65 535 workgroups (a 2-D grid).
  { name: 'channels last: instance NLC 70001 channels', seed, kind: 'instance', channelsLast: true, activation: 'none', shape: [1, 2, 70001] },
  // A tensor above one binding (a 1 KiB cap): the forward's statistics and apply in slabs, every way
  // the statistics plans split (whole rows, ranges of rows, pieces of one row); the backward refuses.
  // The row-wise kernels (norm-rows.ts): row groups walking blocks of rows, units past a row's end,
  // large means, a grid above 65 535 workgroups, group norm's vec4 parameter blocks.
  { name: 'layer row-wise [1000, 256], row groups of 31 rows', seed, kind: 'layer', activation: 'silu', residual: true, shape: [1000, 256] },
  { name: 'rms row-wise [7, 52], units past the row', seed, kind: 'rms', activation: 'relu', residual: true, shape: [7, 52] },
  { name: 'rms row-wise [5, 64], every unit in the row (no bounds tests)', seed, kind: 'rms', activation: 'relu', residual: true, shape: [5, 64] },
  { name: 'layer row-wise [48, 128], every unit in the row, mean 1e4 ± 1', seed, kind: 'layer', activation: 'none', shape: [48, 128], mean: 1e4, std: 1 },
  { name: 'layer row-wise mean 1e4 ± 1', seed, kind: 'layer', activation: 'gelu', shape: [64, 248], mean: 1e4, std: 1 },
  { name: 'layer row-wise above 65 535 workgroups', seed, kind: 'layer', activation: 'gelu-tanh', shape: [70001, 16], tuning: { runSegments: false, workgroupSize: 4 } },
  { name: 'layer row-wise no affine', seed, kind: 'layer', activation: 'gelu', affine: false, shape: [9, 36] },
  { name: 'group row-wise vec4 parameter blocks', seed, kind: 'group', activation: 'silu', residual: true, shape: [3, 16], groups: 2 },
  { name: 'group row-wise runs, 40 samples, runs of 5 units', seed, kind: 'group', activation: 'gelu', residual: true, shape: [40, 6, 20], groups: 3 },
  { name: 'instance row-wise runs, GPU tuning', seed, kind: 'instance', activation: 'relu', residual: true, shape: [17, 3, 4, 12], tuning: { ...defaultTuning, oneDispatch: false } },
  { name: 'slabs: layer rows in slabs', seed, kind: 'layer', activation: 'relu', shape: [40, 37], tuning: { maxBindingBytes: 1024 }, backward: false },
  { name: 'slabs: rms pieces of one row, mean 1e4 ± 1', seed, kind: 'rms', activation: 'none', shape: [3, 700], mean: 1e4, std: 1, tuning: { maxBindingBytes: 1024 }, backward: false },
  { name: 'slabs: layer vec4 rows (the tensor-wide apply past one binding)', seed, kind: 'layer', activation: 'silu', shape: [40, 36], tuning: { maxBindingBytes: 1024 }, backward: false },
  { name: 'slabs: group vec4 runs', seed, kind: 'group', activation: 'gelu', residual: true, shape: [2, 4, 96], groups: 2, tuning: { maxBindingBytes: 1024 }, backward: false },
];

describeGpu('layer, RMS, group and instance norm on WebGPU against the float64 reference', () => {
  let harness: HarnessPage;
  // The largest share of its tolerance each output used, per kind (how tight the bounds are).
  const used = new Map<string, number>();
  beforeAll(async () => {
    harness = await openHarness();
  });
  afterAll(async () => {
    await harness?.close();
    console.log('largest |error| / tolerance per kind and output:');
    for (const [key, value] of [...used].sort(([a], [b]) => a.localeCompare(b))) console.log(`  ${key}: ${value.toExponential(2)}`);
  });

  const cases = seeds.flatMap((s) => [...matrix(), ...special].map((c) => [seeds.length > 1 ? `${c.name} (seed ${s})` : c.name, { ...c, seed: s }] as const));
  it.each(cases)('%s', async (_name, spec) => {
    const report = await harness.call('normCase', spec);
    expect(report.inputsUnmodified).toBe(true);
    recordSweepCase('norms', spec.seed, spec.name, report.checks);
    for (const c of report.checks) {
      const key = `${spec.kind} ${spec.activation} ${c.output}`;
      used.set(key, Math.max(used.get(key) ?? 0, c.used));
    }
    expect(report.checks.filter((c) => c.failure !== null).map((c) => c.failure)).toEqual([]);
    // Statistics (≥ 1 slab, finalize), the apply; RMS norm's invStd kernel; backward: rows, parameters, dx.
    // dispatchCount says what the host-array calls encode.
    expect(report.dispatches).toEqual(report.recorded);
    expect(report.dispatches.forward).toBeGreaterThanOrEqual(spec.running === 'eval' ? 1 : spec.kind === 'rms' ? 4 : 3);
    if (spec.backward === false) {
      expect(report.forwardSlabs).toBe(true);
      expect(report.backwardRefusal).toBe('too-large');
      expect(report.hostBackwardOnCpu).toBe(true);
    } else {
      expect(report.dispatches.backward).toBe(3);
    }
  });

  it('refuses bad GPU-resident calls with a typed error before recording anything', async () => {
    const report = await harness.call('normBadInputsCase');
    expect(report.codes).toEqual([
      { name: 'not an encoder', code: 'invalid-option' },
      { name: 'unknown kind', code: 'invalid-option' },
      { name: 'unknown activation', code: 'invalid-option' },
      { name: 'negative eps', code: 'invalid-option' },
      { name: 'inconsistent view', code: 'invalid-shape' },
      { name: 'groups not dividing params', code: 'invalid-option' },
      { name: 'x too small', code: 'invalid-buffer' },
      { name: 'y aliases x', code: 'invalid-buffer' },
      { name: 'stats too small', code: 'invalid-buffer' },
      { name: 'beta for RMS norm', code: 'invalid-option' },
      { name: 'gamma not a buffer', code: 'invalid-buffer' },
      { name: 'relu backward without y', code: 'invalid-option' },
      { name: 'gelu dz without z', code: 'invalid-option' },
      { name: 'dbeta for RMS norm', code: 'invalid-option' },
      { name: 'dx aliases dy', code: 'invalid-buffer' },
      { name: 'dgamma aliases gamma', code: 'invalid-buffer' },
    ]);
    expect(report.outputsUntouched).toBe(true);
  });
});
