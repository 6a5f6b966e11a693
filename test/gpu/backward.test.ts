import { afterAll, beforeAll, expect, it } from 'vitest';
import { defaultTuning, type KernelTuning } from '../../src/gpu/tuning';
import type { BackwardCase } from './page/backward-case';
import { layouts } from '../../src/layout';
import { serialPlanTakes } from '../support/tolerances';
import type { Layout } from '../../src/types';
import { describeGpu, openHarness, type HarnessPage } from '../support/browser';
import { seedsFromEnv } from '../support/random';
import { recordSweepCase } from '../support/sweep-log';
import { oddShapes } from '../support/odd-shapes';
import { float16BackwardCases } from '../portable/matrix';
import { float16Problems } from './page/float16-case';

const seeds = seedsFromEnv();
// The matrices below are built for `seed`; TEST_SEEDS replays them for each seed in turn (the offline
// seed sweep); a test's title then names its seed.
const seed = seeds[0];
console.log(`backward GPU tests: TEST_SEED${seeds.length > 1 ? `S=${seeds[0]}-${seeds[seeds.length - 1]}` : `=${seed}`}`);


const combos = (['train', 'eval'] as const).flatMap((mode) => (['none', 'relu'] as const).map((activation) => ({ mode, activation })));

// Every shape of every layout in every mode × activation.
function matrix(): BackwardCase[] {
  return layouts.flatMap((layout) =>
    oddShapes[layout].flatMap((shape) =>
      combos.map((combo) => ({ name: `${layout} [${shape}] ${combo.mode} ${combo.activation}`, seed, shape, layout, ...combo })),
    ),
  );
}

/** The matrix in training mode on the three-kernel path, which most of its shapes skip by default. */
function threeKernelMatrix(): BackwardCase[] {
  return matrix()
    .filter((c) => c.mode === 'train')
    .map((c) => ({ ...c, name: `three kernels: ${c.name}`, tuning: { oneDispatch: false } }));
}

/**
 * One dispatch (src/gpu/fused-small.ts), forward and backward, forced by an engine of its own
 * (tuning.oneDispatch true, the default, as a distinct engine) so the test can tell from the shader
 * modules built that no three-kernel reduction ran: every layout in both modes with and without
 * relu, large means, accumulation, no parameter gradients, C = 1, M = 2, primes, the largest
 * channels that fit (4096 values in vec4 units, 1024 single values), > 65 535 workgroups, and both
 * workgroup sums (subgroups, and the barrier tree).
 */
// The register kernels (a workgroup per channel), which GPUs run; and the serial ones (a thread
// per channel group, or per channel walking runs of at least SERIAL_MIN_RUN values), which software
// adapters such as SwiftShader run.
const fusedTuning = { oneDispatch: true, runSegments: false };
const serialTuning = { oneDispatch: true, runSegments: true };
// The planner's own decision (runs of SERIAL_MIN_RUN values or more, SERIAL_MAX_UNITS per group,
// rows layouts up to SERIAL_ROWS_MAX_VALUES): a shape it sends to three kernels would leave the
// serial engine's modules with a reduction in them.
const serialTakes = (c: { shape: number[]; layout?: Layout }) => serialPlanTakes(c.shape, c.layout, 'backward');
function fusedCases(): BackwardCase[] {
  const fusedShapes: Record<Layout, number[][]> = {
    NC: [[2, 1], [37, 5], [32, 128], [1024, 3]],
    NCL: [[3, 7, 5], [2, 1, 2], [4, 8, 12], [5, 3, 131]],
    NLC: [[2, 13, 3], [5, 7, 8], [1, 2, 1], [3, 41, 5]],
    NCHW: [[2, 3, 5, 7], [4, 16, 8, 8], [1, 1, 2, 1], [3, 5, 31, 7]],
    NHWC: [[2, 5, 7, 3], [4, 8, 8, 16], [2, 1, 1, 1], [16, 8, 8, 8]],
    NCDHW: [[2, 3, 3, 5, 7], [1, 4, 2, 4, 4], [2, 1, 1, 1, 1], [1, 2, 3, 5, 11]],
    NDHWC: [[2, 3, 5, 7, 3], [1, 2, 3, 4, 8], [1, 1, 2, 1, 1], [3, 2, 2, 3, 5]],
  };
  const everyLayout = layouts.flatMap((layout) =>
    fusedShapes[layout].flatMap((shape) =>
      combos.map((combo): BackwardCase => ({ name: `${layout} [${shape}] ${combo.mode} ${combo.activation}`, seed, shape, layout, ...combo, tuning: fusedTuning })),
    ),
  );
  const base = { seed, tuning: fusedTuning } as const;
  const large = { mean: 1e4, std: 1 };
  const special: BackwardCase[] = [
    ...([
      [[512, 3], 'NC'],
      [[32, 128], 'NC'],
      [[4, 3, 17, 9], 'NCHW'],
      [[4, 3, 16, 16], 'NCHW'],
      [[4, 17, 5, 4], 'NHWC'],
      [[4, 2, 250], 'NCL'],
    ] as const).flatMap(([shape, layout]) =>
      combos.map((combo): BackwardCase => ({ ...base, name: `${layout} [${shape}] mean 1e4 ± 1 ${combo.mode} ${combo.activation}`, shape: [...shape], layout, ...combo, ...large })),
    ),
    { ...base, name: 'NCHW [16, 256, 16, 16] (4096 values per channel)', shape: [16, 256, 16, 16], layout: 'NCHW', mode: 'train', activation: 'relu' },
    { ...base, name: 'accumulate NCL [6, 5, 68] eval relu (vec4, runs of 17 units)', shape: [6, 5, 68], layout: 'NCL', mode: 'eval', activation: 'relu', accumulate: true },
    { ...base, name: 'accumulate NCL [2, 3, 300] train (vec4, runs longer than a block)', shape: [2, 3, 300], layout: 'NCL', mode: 'train', activation: 'none', accumulate: true },
    { ...base, name: 'dx only NCHW [2, 3, 9, 9] (runs of 81 values)', shape: [2, 3, 9, 9], layout: 'NCHW', mode: 'train', activation: 'relu', paramGrads: false },
    { ...base, name: 'NCHW [16, 2, 16, 16] eval (the most that fit)', shape: [16, 2, 16, 16], layout: 'NCHW', mode: 'eval', activation: 'none' },
    { ...base, name: 'NHWC [16, 8, 8, 64]', shape: [16, 8, 8, 64], layout: 'NHWC', mode: 'train', activation: 'relu' },
    { ...base, name: 'NC [32, 64]', shape: [32, 64], layout: 'NC', mode: 'train', activation: 'relu' },
    { ...base, name: 'negative values mean -50, relu', shape: [32, 6, 9], mode: 'train', activation: 'relu', mean: -50, std: 3 },
    { ...base, name: 'tiny spread 1e-3, eps 1e-12', shape: [64, 5, 7], mode: 'train', activation: 'none', std: 1e-3, eps: 1e-12 },
    { ...base, name: 'no affine (γ = 1, β = 0)', shape: [7, 9, 11], mode: 'train', activation: 'relu', affine: false },
    { ...base, name: 'accumulate NCHW train', shape: [3, 4, 5, 6], layout: 'NCHW', mode: 'train', activation: 'none', accumulate: true },
    { ...base, name: 'accumulate NHWC eval relu', shape: [3, 5, 6, 4], layout: 'NHWC', mode: 'eval', activation: 'relu', accumulate: true },
    { ...base, name: 'dx only (no dgamma, dbeta)', shape: [6, 7, 5], mode: 'train', activation: 'relu', paramGrads: false },
    { ...base, name: 'C = 70001 channels (NHWC, > 65 535 workgroups)', shape: [3, 1, 1, 70001], layout: 'NHWC', mode: 'train', activation: 'relu' },
  ];
  const trees = ([
    { name: 'NCHW [3, 5, 31, 7]', shape: [3, 5, 31, 7], layout: 'NCHW', mode: 'train', activation: 'relu' },
    { name: 'NCHW [16, 2, 16, 16] (vec4) mean 1e4 ± 1', shape: [16, 2, 16, 16], layout: 'NCHW', mode: 'train', activation: 'none', ...large },
    { name: 'NHWC [16, 8, 8, 16] (vec4: two sums per total)', shape: [16, 8, 8, 16], layout: 'NHWC', mode: 'train', activation: 'relu' },
    { name: 'NC [1000, 7] eval', shape: [1000, 7], layout: 'NC', mode: 'eval', activation: 'relu' },
  ] satisfies Omit<BackwardCase, 'seed'>[]).flatMap((c): BackwardCase[] => [
    { ...c, seed, name: `subgroups, tuning.workgroupSize 4: ${c.name}`, tuning: { ...fusedTuning, workgroupSize: 4 } },
    { ...c, seed, name: `barrier tree: ${c.name}`, tuning: { ...fusedTuning, useSubgroups: false } },
    { ...c, seed, name: `barrier tree, tuning.workgroupSize 4: ${c.name}`, tuning: { ...fusedTuning, useSubgroups: false, workgroupSize: 4 } },
  ]);
  const serial = [...everyLayout, ...special].filter(serialTakes).map((c) => ({ ...c, name: `serial: ${c.name}`, tuning: serialTuning }));
  return [...everyLayout, ...special, ...trees, ...serial].map((c) => ({ ...c, name: `one dispatch: ${c.name}` }));
}

const special: BackwardCase[] = [
  // Large means: Σ dy·x − mean·Σ dy would lose every digit; the kernels keep (x − mean).
  ...(['NC', 'NCHW', 'NHWC', 'NCL'] as const).flatMap((layout) => {
    const shape = { NC: [4096, 3], NCHW: [8, 3, 17, 19], NHWC: [8, 17, 19, 4], NCL: [16, 2, 250] }[layout];
    return combos.map((combo): BackwardCase => ({ name: `${layout} [${shape}] mean 1e4 ± 1 ${combo.mode} ${combo.activation}`, seed, shape, layout, ...combo, mean: 1e4, std: 1 }));
  }),
  { name: 'negative values mean -50, relu', seed, shape: [32, 6, 9], mode: 'train', activation: 'relu', mean: -50, std: 3 },
  { name: 'tiny spread 1e-3, eps 1e-12', seed, shape: [64, 5, 7], mode: 'train', activation: 'none', std: 1e-3, eps: 1e-12 },
  { name: 'no affine (γ = 1, β = 0)', seed, shape: [7, 9, 11], mode: 'train', activation: 'relu', affine: false },
  // accumulate: dgamma and dbeta start with random values and receive the sum.
  { name: 'accumulate NCHW train', seed, shape: [3, 4, 5, 6], layout: 'NCHW', mode: 'train', activation: 'none', accumulate: true },
  { name: 'accumulate NHWC eval relu', seed, shape: [3, 5, 6, 4], layout: 'NHWC', mode: 'eval', activation: 'relu', accumulate: true },
  { name: 'dx only (no dgamma, dbeta)', seed, shape: [6, 7, 5], mode: 'train', activation: 'relu', paramGrads: false },
  // > 65 535 workgroups: 70 001 channels give backward-reduce-runs one workgroup per channel,
  // folded into a 2-D grid …
  { name: 'C = 70001 channels (NCHW)', seed, shape: [2, 70001, 3, 1], layout: 'NCHW', mode: 'train', activation: 'relu' },
  { name: 'C = 70001 channels (NC)', seed, shape: [5, 70001], layout: 'NC', mode: 'eval', activation: 'none' },
  // … and backward-apply: 4-thread workgroups with one value each need 65 664 workgroups.
  { name: 'apply above 65 535 workgroups', seed, shape: [1, 513, 512, 1], layout: 'NHWC', mode: 'train', activation: 'relu', tuning: { workgroupSize: 4, applyUnitsPerThread: 1 } },
  { name: 'eval above 65 535 workgroups', seed, shape: [1, 1, 263000], layout: 'NCL', mode: 'eval', activation: 'relu', tuning: { workgroupSize: 4, applyUnitsPerThread: 1 } },
  // The tuning of a real GPU (many short reduction threads, many partials per channel), which
  // software adapters do not use by default.
  { name: 'NC [1000, 12] with GPU tuning', seed, shape: [1000, 12], layout: 'NC', mode: 'train', activation: 'relu', tuning: { ...defaultTuning, oneDispatch: false } },
  { name: 'NC [3000, 5] with GPU tuning', seed, shape: [3000, 5], layout: 'NC', mode: 'train', activation: 'none', tuning: { ...defaultTuning } },
  { name: 'NCHW [8, 6, 33, 31] with GPU tuning', seed, shape: [8, 6, 33, 31], layout: 'NCHW', mode: 'train', activation: 'relu', tuning: { ...defaultTuning, oneDispatch: false } },
  // Tensors larger than one storage binding, in slabs (src/gpu/slabs.ts): a 1 KiB binding cap makes
  // small tensors take every way of splitting (see forward.test.ts), in both modes.
  ...([
    [[1000, 12], 'NC'],
    [[333, 7], 'NC'],
    [[3, 17, 13, 5], 'NHWC'],
    [[9, 3, 5, 7], 'NCHW'],
    [[3, 5, 11, 13], 'NCHW'],
    [[4, 6, 40], 'NCL'],
    [[2, 3, 1001], 'NCL'],
    [[2, 2, 20, 20], 'NCHW'],
    [[2, 3, 193], 'NCL'],
  ] as const).flatMap(([shape, layout], k): BackwardCase[] => [
    { name: `slabs ${layout} [${shape}] train`, seed, shape: [...shape], layout, mode: 'train', activation: k % 2 ? 'none' : 'relu', tuning: { maxBindingBytes: 1024 } },
    { name: `slabs ${layout} [${shape}] eval`, seed, shape: [...shape], layout, mode: 'eval', activation: k % 2 ? 'relu' : 'none', tuning: { maxBindingBytes: 1024 } },
  ]),
  { name: 'slabs, mean 1e4 ± 1: NCHW [4, 3, 30, 30]', seed, shape: [4, 3, 30, 30], layout: 'NCHW', mode: 'train', activation: 'relu', mean: 1e4, std: 1, tuning: { maxBindingBytes: 1024 } },
  { name: 'slabs, accumulate, GPU tuning: NCHW [3, 5, 11, 13]', seed, shape: [3, 5, 11, 13], layout: 'NCHW', mode: 'train', activation: 'none', accumulate: true, tuning: { ...defaultTuning, maxBindingBytes: 1024 } },
  // Larger realistic batches through every vec4 path.
  { name: 'NHWC [16, 16, 16, 32]', seed, shape: [16, 16, 16, 32], layout: 'NHWC', mode: 'train', activation: 'relu' },
  { name: 'NCHW [16, 32, 16, 16]', seed, shape: [16, 32, 16, 16], layout: 'NCHW', mode: 'train', activation: 'none' },
  { name: 'NC [8192, 128]', seed, shape: [8192, 128], layout: 'NC', mode: 'train', activation: 'none' },
  // Many partials per channel (78 row chunks) with the adapter's tuning: on software adapters they
  // are added by one thread per channel (serialFinalizeMaxChunks).
  { name: 'NC [20000, 4] mean 1e4 ± 1, 78 partials per channel', seed, shape: [20000, 4], layout: 'NC', mode: 'train', activation: 'relu', mean: 1e4, std: 1 },
  // The two-level finalize (FINALIZE_MAX_PARTIALS): GPU tunings give these more than 128 partial
  // sums per channel, which partials-fold.wgsl adds in groups before backward-finalize.
  { name: 'two-level finalize, GPU tuning: NC [20000, 4] mean 1e4 ± 1 (1250 partials, 125 groups)', seed, shape: [20000, 4], layout: 'NC', mode: 'train', activation: 'relu', mean: 1e4, std: 1, tuning: { ...defaultTuning, oneDispatch: false } },
  { name: 'two-level finalize, GPU tuning: NC [3001, 5] eval (187 partials)', seed, shape: [3001, 5], layout: 'NC', mode: 'eval', activation: 'none', tuning: { ...defaultTuning, oneDispatch: false } },
  { name: 'two-level finalize, GPU tuning: NCHW [33, 1, 128, 128] (132 chunks)', seed, shape: [33, 1, 128, 128], layout: 'NCHW', mode: 'train', activation: 'relu', tuning: { ...defaultTuning, oneDispatch: false, statsBytesInFlight: 8 * 1024 * 1024 } },
  ...workgroupSumCases().map((c): BackwardCase => ({ ...c, seed })),
  ...gpuTuningCases().map((c): BackwardCase => ({ ...c, seed })),
];

/**
 * The launch plans of real GPUs (defaultTuning: workgroups of 256, ~2 MB of loads in flight, blocks
 * of four loads per thread), which the software adapter here does not pick by itself: every layout
 * in both modes with and without relu, large means, slabs, and a backward-reduce dispatch above
 * 65 535 workgroups (4-thread workgroups, short threads: 75 000 workgroups).
 */
function gpuTuningCases(): Omit<BackwardCase, 'seed'>[] {
  const gpu = { ...defaultTuning };
  return [
    ...layouts.flatMap((layout) =>
      combos.map((combo, k): Omit<BackwardCase, 'seed'> => {
        const shape = oddShapes[layout][k % oddShapes[layout].length];
        return { name: `GPU tuning: ${layout} [${shape}] ${combo.mode} ${combo.activation}`, shape, layout, ...combo, tuning: gpu };
      }),
    ),
    ...(['NC', 'NHWC', 'NCHW', 'NCL'] as const).map((layout): Omit<BackwardCase, 'seed'> => {
      const shape = { NC: [4096, 3], NCHW: [8, 3, 17, 19], NHWC: [8, 17, 19, 4], NCL: [16, 2, 250] }[layout];
      return { name: `GPU tuning: ${layout} [${shape}] mean 1e4 ± 1`, shape, layout, mode: 'train', activation: 'relu', mean: 1e4, std: 1, tuning: gpu };
    }),
    { name: 'GPU tuning, slabs: NHWC [3, 17, 13, 5]', shape: [3, 17, 13, 5], layout: 'NHWC', mode: 'train', activation: 'relu', tuning: { ...gpu, maxBindingBytes: 1024 } },
    { name: 'GPU tuning, slabs: NCL [2, 3, 1001]', shape: [2, 3, 1001], layout: 'NCL', mode: 'train', activation: 'none', tuning: { ...gpu, maxBindingBytes: 1024 } },
    { name: 'GPU tuning, backward-reduce above 65 535 workgroups: NC [400000, 3]', shape: [400000, 3], layout: 'NC', mode: 'train', activation: 'relu', tuning: { ...gpu, workgroupSize: 4, statsMinValuesPerThread: 4, statsBytesInFlight: 8 << 20 } },
  ];
}

/**
 * The workgroup sums of backward-reduce-runs (NCL, NCHW, NCDHW; see shaders/workgroup-reduce*.wgsl).
 * The engine's device has `subgroups` on SwiftShader, so every case above runs the subgroups
 * variant; these force the barrier tree (useSubgroups: false), which devices without the feature
 * run, in scalar and vec4 runs, with large means, in both modes, and with the GPU tuning's many
 * partials per channel (backwardFinalizeTree); and run both variants at the extreme workgroup sizes
 * (4: one subgroup per workgroup on SwiftShader; 256) and with many partials.
 */
function workgroupSumCases(): Omit<BackwardCase, 'seed'>[] {
  // The three-kernel path: these shapes would take one dispatch (fusedCases covers that).
  const tree = { useSubgroups: false, oneDispatch: false };
  const threeKernels = { oneDispatch: false };
  const fallback: Omit<BackwardCase, 'seed'>[] = [
    { name: 'NCL [5, 3, 131]', shape: [5, 3, 131], layout: 'NCL', mode: 'train', activation: 'relu' },
    { name: 'NCL [4, 8, 12] (vec4)', shape: [4, 8, 12], layout: 'NCL', mode: 'train', activation: 'none' },
    { name: 'NCHW [3, 5, 31, 17] eval', shape: [3, 5, 31, 17], layout: 'NCHW', mode: 'eval', activation: 'relu' },
    { name: 'NCHW [16, 32, 16, 16] (vec4)', shape: [16, 32, 16, 16], layout: 'NCHW', mode: 'train', activation: 'relu' },
    { name: 'NCDHW [1, 2, 3, 5, 11]', shape: [1, 2, 3, 5, 11], layout: 'NCDHW', mode: 'train', activation: 'none' },
    { name: 'NCDHW [1, 4, 2, 4, 4] (vec4) eval', shape: [1, 4, 2, 4, 4], layout: 'NCDHW', mode: 'eval', activation: 'none' },
    { name: 'NCHW [8, 3, 17, 19] mean 1e4 ± 1', shape: [8, 3, 17, 19], layout: 'NCHW', mode: 'train', activation: 'relu', mean: 1e4, std: 1 },
    { name: 'NCHW [4, 3, 16, 16] (vec4) mean 1e4 ± 1', shape: [4, 3, 16, 16], layout: 'NCHW', mode: 'train', activation: 'none', mean: 1e4, std: 1 },
  ];
  const bothVariants: [Omit<BackwardCase, 'seed'>, Partial<KernelTuning>][] = [
    [{ name: 'NCL [8, 2, 4099] GPU tuning (33 partials)', shape: [8, 2, 4099], layout: 'NCL', mode: 'train', activation: 'relu' }, { ...defaultTuning, ...threeKernels }],
    [{ name: 'NCHW [16, 2, 64, 64] (vec4) GPU tuning (64 partials) mean 1e4 ± 1', shape: [16, 2, 64, 64], layout: 'NCHW', mode: 'train', activation: 'none', mean: 1e4, std: 1 }, { ...defaultTuning, ...threeKernels }],
    [{ name: 'NCL [2, 3, 1001] 4-thread workgroups', shape: [2, 3, 1001], layout: 'NCL', mode: 'train', activation: 'relu' }, { workgroupSize: 4, ...threeKernels }],
    [{ name: 'NCHW [4, 6, 20, 20] (vec4) 256-thread workgroups', shape: [4, 6, 20, 20], layout: 'NCHW', mode: 'train', activation: 'none' }, { workgroupSize: 256, ...threeKernels }],
  ];
  return [
    ...fallback.map((c) => ({ ...c, name: `barrier tree: ${c.name}`, tuning: tree })),
    ...bothVariants.flatMap(([c, tuning]) => [
      { ...c, name: `subgroups: ${c.name}`, tuning },
      { ...c, name: `barrier tree: ${c.name}`, tuning: { ...tuning, ...tree } },
    ]),
  ];
}

/**
 * The backward of a fused residual add (y = act(BN(x) + z)): dz = dy through the mask of y, exact,
 * with dx, dgamma and dbeta under the same bounds as without a residual (the backward reads neither
 * z nor BN(x) + z, only y, so the add's rounding does not reach the gradients). Every layout ×
 * mode × activation on odd shapes, shapes that would take one dispatch (which writes no dz), slabs
 * (dz bound slab by slab), the vec4 entry points with the GPU tuning, accumulation, no parameter
 * gradients, large means of x and z, and the apply kernel above 65 535 workgroups.
 */
function residualCases(): BackwardCase[] {
  const base = { seed, residual: true } as const;
  const everyLayout = layouts.flatMap((layout) =>
    combos.map((combo, k): BackwardCase => {
      const shape = oddShapes[layout][(k + 1) % oddShapes[layout].length];
      return { ...base, name: `${layout} [${shape}] ${combo.mode} ${combo.activation}`, shape, layout, ...combo };
    }),
  );
  const train = { mode: 'train', activation: 'relu' } as const;
  // An engine of its own that takes one dispatch wherever it fits; runs layouts take it with the
  // register kernels only (runSegments false).
  const oneDispatch = { oneDispatch: true };
  const gpuTuning = { ...defaultTuning, oneDispatch: false };
  const cases: BackwardCase[] = [
    { ...base, ...train, name: 'one-dispatch size: NC [32, 64]', shape: [32, 64], layout: 'NC', tuning: oneDispatch },
    { ...base, ...train, name: 'one-dispatch size: NHWC [4, 8, 8, 16] eval', shape: [4, 8, 8, 16], layout: 'NHWC', mode: 'eval', tuning: oneDispatch },
    { ...base, ...train, name: 'one-dispatch size: NCHW [2, 3, 5, 7]', shape: [2, 3, 5, 7], layout: 'NCHW', activation: 'none', tuning: { ...oneDispatch, runSegments: false, workgroupSize: 64 } },
    ...([
      [[1000, 12], 'NC'],
      [[3, 17, 13, 5], 'NHWC'],
      [[3, 5, 11, 13], 'NCHW'],
      [[2, 3, 1001], 'NCL'],
      [[2, 2, 20, 20], 'NCHW'],
    ] as const).map(([shape, layout], k): BackwardCase => ({ ...base, name: `slabs ${layout} [${shape}]`, shape: [...shape], layout, mode: k % 2 ? 'eval' : 'train', activation: k % 3 ? 'relu' : 'none', tuning: { maxBindingBytes: 1024 } })),
    { ...base, ...train, name: 'GPU tuning: NCHW [4, 16, 8, 8] (vec4 runs)', shape: [4, 16, 8, 8], layout: 'NCHW', tuning: gpuTuning },
    { ...base, ...train, name: 'GPU tuning: NHWC [4, 8, 8, 16] (vec4 channels)', shape: [4, 8, 8, 16], layout: 'NHWC', tuning: gpuTuning },
    { ...base, ...train, name: 'GPU tuning: NC [1000, 12] eval none (vec4 channels)', shape: [1000, 12], layout: 'NC', mode: 'eval', activation: 'none', tuning: gpuTuning },
    { ...base, ...train, name: 'accumulate NCHW [3, 4, 5, 6]', shape: [3, 4, 5, 6], layout: 'NCHW', accumulate: true },
    { ...base, ...train, name: 'dx and dz only (no dgamma, dbeta)', shape: [6, 7, 5], paramGrads: false },
    { ...base, ...train, name: 'host arrays of numbers, saved z as residual', shape: [9, 5, 7], numberArrays: true },
    { ...base, ...train, name: 'NCHW [8, 3, 17, 19] x mean 1e4 ± 1', shape: [8, 3, 17, 19], layout: 'NCHW', mean: 1e4, std: 1 },
    { ...base, ...train, name: 'NHWC [8, 17, 19, 4] z mean 1e4 ± 1', shape: [8, 17, 19, 4], layout: 'NHWC', residualMean: 1e4 },
    { ...base, ...train, name: 'apply above 65 535 workgroups', shape: [1, 513, 512, 1], layout: 'NHWC', tuning: { workgroupSize: 4, applyUnitsPerThread: 1 } },
  ];
  return [...everyLayout, ...cases].map((c) => ({ ...c, name: `residual: ${c.name}` }));
}

describeGpu('backward on WebGPU against the float64 reference', () => {
  let harness: HarnessPage;
  const worst = new Map<string, { maxAbs: number; maxRel: number; used: number; eps: number; where: string }>();
  beforeAll(async () => {
    harness = await openHarness();
  });
  afterAll(async () => {
    await harness?.close();
    console.log(`worst gradient errors per layout: max abs / max rel / largest error in ε·(terms' magnitude) / share of tolerance used (where)`);
    for (const [key, w] of [...worst].sort(([a], [b]) => a.localeCompare(b))) {
      const eps = `${w.eps.toFixed(1)} ε`.padStart(7);
      console.log(`  ${key.padEnd(16)} ${w.maxAbs.toExponential(2)} / ${w.maxRel.toExponential(2)} / ${eps} / ${(100 * w.used).toFixed(1)}%  (${w.where})`);
    }
  });

  // dtype 'float16' (the portable suite's list): Chromium's SwiftShader has no shader-f16, so here the
  // resident calls must refuse it and the host calls give the CPU path's results.
  const cases = seeds.flatMap((s) => [...matrix(), ...threeKernelMatrix(), ...special, ...fusedCases(), ...residualCases(), ...float16BackwardCases(seed)].map((c) => [seeds.length > 1 ? `${c.name} (seed ${s})` : c.name, { ...c, seed: s }] as const));
  it.each(cases)('%s', async (_name, spec) => {
    const report = await harness.call('backwardCase', spec);
    if (spec.tuning?.oneDispatch === true && !spec.residual) {
      // Its engine ran the one-dispatch kernels, and never a three-kernel reduction.
      expect(report.modules.filter((name) => name.startsWith('fused-small-backward'))).not.toEqual([]);
      expect(report.modules.filter((name) => /^(stats|finalize|backward-reduce|backward-finalize)/.test(name))).toEqual([]);
    }
    // Its engine ran the first level of a two-level finalize.
    if (spec.name.startsWith('two-level finalize')) expect(report.modules).toContain('partials-fold');
    expect(report.backend).toBe('webgpu');
    expect(report.inputUnmodified).toBe(true);
    expect(float16Problems(spec.dtype, report)).toEqual([]);
    recordSweepCase('backward', spec.seed, spec.name, report.checks);
    const failures = report.checks.filter((c) => c.failure !== null).map((c) => c.failure);
    expect(failures).toEqual([]);
    // (A residual of mean 1e4 lifts every y above 0: nothing to mask there.)
    if (spec.activation === 'relu' && report.size >= 64 && !spec.residualMean) expect(report.masked).toBeGreaterThan(0);
    for (const c of report.checks) {
      const key = `${spec.layout ?? 'axis 1'} ${c.output}`;
      const current = worst.get(key);
      worst.set(key, {
        maxAbs: Math.max(current?.maxAbs ?? 0, c.maxAbs),
        maxRel: Math.max(current?.maxRel ?? 0, c.maxRel),
        used: Math.max(current?.used ?? 0, c.used),
        eps: Math.max(current?.eps ?? 0, c.epsOfTerms),
        where: !current || c.used > current.used ? `${spec.name}, ${c.path}` : current.where,
      });
    }
  });

  it('verify mode accepts a correct backward and catches a corrupted one', async () => {
    const report = await harness.call('backwardVerifyCase', { seed });
    expect(report.cleanRunPassed).toBe(true);
    expect(report.corruptedCode).toBe('verification-failed');
    expect(report.corruptedMessage).toMatch(/dx\[\d+\].* on the GPU and .* on the CPU; allowed difference/);
  });

  it('encodeBackward rejects bad arguments with typed errors before encoding anything', async () => {
    const report = await harness.call('backwardValidationCase');
    expect(report.codes).toEqual({
      'unknown mode': 'invalid-option',
      'dx too small': 'invalid-buffer',
      'dx aliases dy': 'invalid-buffer',
      'dx aliases x': 'invalid-buffer',
      'dgamma aliases dbeta': 'invalid-buffer',
      'dgamma aliases stats': 'invalid-buffer',
      'stats holds 4·C values': 'invalid-buffer',
      'gamma holds C − 1 values': 'invalid-buffer',
      'dy without STORAGE usage': 'invalid-buffer',
      'dx not a buffer': 'invalid-buffer',
      'accumulate not a boolean': 'invalid-option',
      'M = 1 in training': 'too-few-values',
      'unknown layout': 'invalid-layout',
      'relu without y': 'invalid-buffer',
      'relu, y aliases dx': 'invalid-buffer',
      'relu, y too small': 'invalid-buffer',
      'x and dy one buffer (allowed)': 'no error',
      'relu, y is x (allowed)': 'no error',
      'M = 1 in eval (allowed)': 'no error',
    });
    expect(report.gpuError).toBeNull();
  });
});
