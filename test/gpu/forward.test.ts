import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ForwardCase } from './page/forward-case';
import { channelView, layouts } from '../../src/layout';
import { CPU_FOLD_IN_APPLY_MAX_BYTES } from '../../src/gpu/fused-small';
import { serialPlanTakes } from '../support/tolerances';
import { defaultTuning, softwareAdapterTuning, type KernelTuning } from '../../src/gpu/tuning';
import type { Layout } from '../../src/types';
import { describeGpu, openHarness, type HarnessPage } from '../support/browser';
import { seedsFromEnv } from '../support/random';
import { recordSweepCase } from '../support/sweep-log';
import { oddShapes } from '../support/odd-shapes';
import { float16ForwardCases } from '../portable/matrix';
import { float16Problems } from './page/float16-case';

const seeds = seedsFromEnv();
// The matrices below are built for `seed`; TEST_SEEDS replays them for each seed in turn (the offline
// seed sweep); a test's title then names its seed.
const seed = seeds[0];
console.log(`forward GPU tests: TEST_SEED${seeds.length > 1 ? `S=${seeds[0]}-${seeds[seeds.length - 1]}` : `=${seed}`}`);


const combos = (['train', 'inference'] as const).flatMap((pass) =>
  (['none', 'relu'] as const).flatMap((activation) =>
    (['pytorch', 'keras'] as const).map((convention) => ({ pass, activation, convention })),
  ),
);

function matrix(): ForwardCase[] {
  return layouts.flatMap((layout) =>
    combos.map((combo, k) => {
      const shape = oddShapes[layout][k % oddShapes[layout].length];
      return { name: `${layout} [${shape}] ${combo.pass} ${combo.activation} ${combo.convention}`, seed, shape, layout, ...combo };
    }),
  );
}

/**
 * The matrix with tuning.oneDispatch false: training on the three-kernel path, which most of its
 * cases skip by default, and inference with the fold of the running statistics in a dispatch of its
 * own, as compatibility-mode devices run it (by default inference folds inside its apply).
 */
function multiPassMatrix(): ForwardCase[] {
  return matrix().map((c) => ({ ...c, name: `${c.pass === 'train' ? 'three kernels' : 'fold, then apply'}: ${c.name}`, tuning: { oneDispatch: false } }));
}

/**
 * One dispatch (src/gpu/fused-small.ts), forced by an engine of its own (tuning.oneDispatch true,
 * the default, as a distinct engine) so the test can tell from the shader modules built that no
 * three-kernel reduction ran: every layout, relu, both conventions, running statistics, large
 * means, C = 1, M = 2, primes, sizes that are no multiple of 4 or of the workgroup size, the
 * largest channels that fit (8192 values in vec4 units, 2048 single values), > 65 535 workgroups,
 * and both workgroup sums (subgroups, and the barrier tree).
 */
// The register kernels (a workgroup per channel), which GPUs run; and the serial ones (a thread
// per channel group, or per channel walking runs of at least SERIAL_MIN_RUN values), which software
// adapters such as SwiftShader run.
const fusedTuning = { oneDispatch: true, runSegments: false };
const serialTuning = { oneDispatch: true, runSegments: true };
// The planner's own decision (runs of SERIAL_MIN_RUN values or more, SERIAL_MAX_UNITS per group,
// rows layouts up to SERIAL_ROWS_MAX_VALUES): a shape it sends to three kernels would leave the
// serial engine's modules with a reduction in them.
const serialTakes = (c: { shape: number[]; layout?: Layout }) => serialPlanTakes(c.shape, c.layout, 'forward');
function fusedCases(): ForwardCase[] {
  const fusedShapes: Record<Layout, number[][]> = {
    NC: [[2, 1], [37, 5], [32, 128], [2048, 3]],
    NCL: [[3, 7, 5], [2, 1, 2], [4, 8, 12], [5, 3, 131]],
    NLC: [[2, 13, 3], [5, 7, 8], [1, 2, 1], [3, 41, 5]],
    NCHW: [[2, 3, 5, 7], [4, 16, 8, 8], [1, 1, 2, 1], [3, 5, 31, 17]],
    NHWC: [[2, 5, 7, 3], [4, 8, 8, 16], [2, 1, 1, 1], [32, 8, 8, 8]],
    NCDHW: [[2, 3, 3, 5, 7], [1, 4, 2, 4, 4], [2, 1, 1, 1, 1], [1, 2, 3, 5, 11]],
    NDHWC: [[2, 3, 5, 7, 3], [1, 2, 3, 4, 8], [1, 1, 2, 1, 1], [3, 2, 2, 3, 5]],
  };
  const trainCombos = combos.filter((c) => c.pass === 'train');
  const base = { seed, pass: 'train', tuning: fusedTuning } as const;
  const everyLayout = layouts.flatMap((layout) =>
    fusedShapes[layout].flatMap((shape, k) => {
      const combo = trainCombos[k % trainCombos.length];
      return [{ ...base, name: `${layout} [${shape}] ${combo.activation} ${combo.convention}`, shape, layout, activation: combo.activation, convention: combo.convention }];
    }),
  );
  const none = { activation: 'none', convention: 'pytorch' } as const;
  const large = { mean: 1e4, std: 1 };
  const special: ForwardCase[] = [
    { ...base, ...none, ...large, name: 'NC [512, 3] mean 1e4 ± 1', shape: [512, 3], layout: 'NC' },
    { ...base, ...none, ...large, name: 'NC [32, 128] (vec4) mean 1e4 ± 1', shape: [32, 128], layout: 'NC', convention: 'keras' },
    { ...base, ...none, ...large, name: 'NCHW [4, 3, 17, 19] mean 1e4 ± 1', shape: [4, 3, 17, 19], layout: 'NCHW' },
    { ...base, ...none, ...large, name: 'NCHW [4, 3, 16, 16] (vec4) mean 1e4 ± 1', shape: [4, 3, 16, 16], layout: 'NCHW', activation: 'relu' },
    { ...base, ...none, ...large, name: 'NHWC [4, 17, 19, 4] (vec4) mean 1e4 ± 1', shape: [4, 17, 19, 4], layout: 'NHWC' },
    { ...base, ...none, ...large, name: 'NCL [8, 2, 250] mean 1e4 ± 1', shape: [8, 2, 250], layout: 'NCL' },
    { ...base, name: 'NCL [6, 5, 68] (vec4, runs of 17 units)', shape: [6, 5, 68], layout: 'NCL', activation: 'relu', convention: 'keras' },
    { ...base, ...large, name: 'NCHW [8, 5, 4, 5] (runs of 20 values: a block and a unit) mean 1e4 ± 1', shape: [8, 5, 4, 5], layout: 'NCHW', activation: 'relu', convention: 'pytorch' },
    // Sorted along the channel: the chains of merges meet far-off prefix means (the bound's R² term).
    { ...base, ...none, order: 'sorted', name: 'NCHW [4, 3, 16, 16] (vec4) sorted', shape: [4, 3, 16, 16], layout: 'NCHW' },
    { ...base, ...none, ...large, order: 'sorted', name: 'NCL [3, 2, 333] sorted, mean 1e4 ± 1', shape: [3, 2, 333], layout: 'NCL', convention: 'keras' },
    { ...base, name: 'NCHW [16, 256, 16, 16] (4096 values per channel)', shape: [16, 256, 16, 16], layout: 'NCHW', activation: 'relu', convention: 'pytorch' },
    { ...base, name: 'NCHW [32, 2, 16, 16] (8192 values per channel, the most that fit)', shape: [32, 2, 16, 16], layout: 'NCHW', activation: 'none', convention: 'keras' },
    { ...base, name: 'NHWC [32, 8, 8, 64]', shape: [32, 8, 8, 64], layout: 'NHWC', activation: 'relu', convention: 'keras' },
    { ...base, name: 'NC [32, 64]', shape: [32, 64], layout: 'NC', activation: 'relu', convention: 'pytorch' },
    { ...base, ...none, name: 'no affine, no running stats', shape: [7, 9, 11], affine: false, running: false },
    { ...base, ...none, name: 'momentum 1', shape: [9, 4], momentum: 1 },
    { ...base, name: 'negative values mean -50', shape: [32, 6, 9], activation: 'relu', convention: 'keras', mean: -50, std: 3 },
    { ...base, ...none, name: 'tiny values, eps 1e-12', shape: [64, 5, 7], std: 1e-3, eps: 1e-12 },
    { ...base, name: 'C = 70001 channels (NHWC, > 65 535 workgroups)', shape: [3, 1, 1, 70001], layout: 'NHWC', activation: 'relu', convention: 'keras' },
  ];
  const trees: ForwardCase[] = ([
    { ...base, name: 'NCHW [3, 5, 31, 17]', shape: [3, 5, 31, 17], layout: 'NCHW', activation: 'relu', convention: 'pytorch' },
    { ...base, name: 'NCHW [16, 4, 16, 16] (vec4) mean 1e4 ± 1', shape: [16, 4, 16, 16], layout: 'NCHW', ...none, ...large },
    { ...base, name: 'NHWC [32, 8, 8, 16] (vec4: two sums per total)', shape: [32, 8, 8, 16], layout: 'NHWC', activation: 'relu', convention: 'keras' },
    { ...base, name: 'NC [1000, 7]', shape: [1000, 7], layout: 'NC', ...none },
  ] satisfies ForwardCase[]).flatMap((c): ForwardCase[] => [
    { ...c, name: `subgroups, tuning.workgroupSize 4: ${c.name}`, tuning: { ...fusedTuning, workgroupSize: 4 } },
    { ...c, name: `barrier tree: ${c.name}`, tuning: { ...fusedTuning, useSubgroups: false } },
    { ...c, name: `barrier tree, tuning.workgroupSize 4: ${c.name}`, tuning: { ...fusedTuning, useSubgroups: false, workgroupSize: 4 } },
  ]);
  const serial = [...everyLayout, ...special].filter(serialTakes).map((c) => ({ ...c, name: `serial: ${c.name}`, tuning: serialTuning }));
  return [...everyLayout, ...special, ...trees, ...serial].map((c) => ({ ...c, name: `one dispatch: ${c.name}` }));
}

const special: ForwardCase[] = [
  // Large means: float32 E[x²] − E[x]² would lose every digit here.
  ...(['NC', 'NCHW', 'NHWC', 'NCL'] as const).map((layout): ForwardCase => {
    const shape = { NC: [4096, 3], NCHW: [8, 3, 17, 19], NHWC: [8, 17, 19, 4], NCL: [16, 2, 250] }[layout];
    return { name: `${layout} [${shape}] mean 1e4 ± 1`, seed, shape, layout, pass: 'train', activation: 'none', convention: 'pytorch', mean: 1e4, std: 1 };
  }),
  { name: 'tiny values 1e-30 scale', seed, shape: [64, 5, 7], pass: 'train', activation: 'none', convention: 'pytorch', mean: 0, std: 1e-3, eps: 1e-12 },
  { name: 'negative values mean -50', seed, shape: [32, 6, 9], pass: 'train', activation: 'relu', convention: 'keras', mean: -50, std: 3 },
  { name: 'no affine, no running stats', seed, shape: [7, 9, 11], pass: 'train', activation: 'none', convention: 'pytorch', affine: false, running: false },
  { name: 'momentum 0 and 1', seed, shape: [9, 4], pass: 'train', activation: 'none', convention: 'pytorch', momentum: 1 },
  { name: 'keras momentum 0', seed, shape: [9, 4], pass: 'train', activation: 'none', convention: 'keras', momentum: 0 },
  // > 65 535 workgroups with default tuning: 70 001 channels give the statistics and finalize
  // kernels one workgroup per channel, folded into a 2-D grid.
  { name: 'C = 70001 channels (NCHW)', seed, shape: [2, 70001, 3, 1], layout: 'NCHW', pass: 'train', activation: 'relu', convention: 'pytorch' },
  { name: 'C = 70001 channels (NC)', seed, shape: [5, 70001], layout: 'NC', pass: 'train', activation: 'none', convention: 'keras' },
  // … and for the apply kernel: 4-thread workgroups with one value each need 65 664 workgroups.
  { name: 'apply above 65 535 workgroups', seed, shape: [1, 513, 512, 1], layout: 'NHWC', pass: 'train', activation: 'none', convention: 'pytorch', tuning: { workgroupSize: 4, applyUnitsPerThread: 1 } },
  { name: 'inference above 65 535 workgroups', seed, shape: [1, 1, 263000], layout: 'NCL', pass: 'inference', activation: 'relu', convention: 'pytorch', tuning: { workgroupSize: 4, applyUnitsPerThread: 1 } },
  // Inference stores every channel's fold from a grid-stride loop: more channels than threads (the
  // contiguous walk of software adapters gives [1, 1024, 8, 8], 256 KB, 512 threads), and C = 70001
  // with the GPU tuning (which folds in the apply at any size).
  { name: 'inference, more channels than threads: NCHW [1, 1024, 8, 8]', seed, shape: [1, 1024, 8, 8], layout: 'NCHW', pass: 'inference', activation: 'none', convention: 'keras' },
  { name: 'inference, C = 70001 channels (NC), GPU tuning', seed, shape: [5, 70001], layout: 'NC', pass: 'inference', activation: 'relu', convention: 'pytorch', tuning: defaultTuning },
  // The tuning of a real GPU (many short statistics threads), which software adapters do not use by
  // default: keeps the many-partials path (finalizeTree) and short threads tested here too.
  ...([[1000, 12, 'NC'], [3000, 5, 'NC'], [8, 6, 33, 31, 'NCHW'], [16, 4, 16, 16, 'NCHW']] as const).map((entry): ForwardCase => {
    const layout = entry[entry.length - 1] as Layout;
    const shape = entry.slice(0, -1) as number[];
    return { name: `${layout} [${shape}] with GPU tuning`, seed, shape, layout, pass: 'train', activation: 'relu', convention: 'pytorch', tuning: { ...defaultTuning, oneDispatch: false } };
  }),
  // Tensors larger than one storage binding, processed in slabs (src/gpu/slabs.ts): a 1 KiB binding
  // cap makes small tensors take every way of splitting — whole rows (aligned or not, scalar and
  // vec4), channel ranges of one row, pieces of one channel run (vec4, scalar, a last piece of one
  // value) — and large means check that partials merged across slabs keep their digits.
  ...slabCases().map((c): ForwardCase => ({ ...c, seed, tuning: { maxBindingBytes: 1024 } })),
  { name: 'slabs with GPU tuning: NCHW [3, 5, 11, 13] channel ranges', seed, shape: [3, 5, 11, 13], layout: 'NCHW', pass: 'train', activation: 'relu', convention: 'pytorch', tuning: { ...defaultTuning, maxBindingBytes: 1024 } },
  { name: 'slabs with GPU tuning: NC [1000, 12]', seed, shape: [1000, 12], layout: 'NC', pass: 'train', activation: 'none', convention: 'keras', tuning: { ...defaultTuning, maxBindingBytes: 2048 } },
  // A larger realistic batch through every vec4 path.
  { name: 'NHWC [16, 16, 16, 32]', seed, shape: [16, 16, 16, 32], layout: 'NHWC', pass: 'train', activation: 'relu', convention: 'pytorch' },
  { name: 'NCHW [16, 32, 16, 16]', seed, shape: [16, 32, 16, 16], layout: 'NCHW', pass: 'train', activation: 'none', convention: 'keras' },
  // Many partials per channel (78 row chunks) with the adapter's tuning: on software adapters they
  // are folded by one thread per channel (serialFinalizeMaxChunks), across large means.
  { name: 'NC [20000, 4] mean 1e4 ± 1, 78 partials per channel', seed, shape: [20000, 4], layout: 'NC', pass: 'train', activation: 'none', convention: 'pytorch', mean: 1e4, std: 1 },
  // The two-level finalize (FINALIZE_MAX_PARTIALS): GPU tunings give these more than 128 partials
  // per channel, which partials-fold.wgsl folds in groups before finalize merges the groups.
  { name: 'two-level finalize, GPU tuning: NC [20000, 4] mean 1e4 ± 1 (1250 partials, 125 groups)', seed, shape: [20000, 4], layout: 'NC', pass: 'train', activation: 'none', convention: 'pytorch', mean: 1e4, std: 1, tuning: { ...defaultTuning, oneDispatch: false } },
  { name: 'two-level finalize, GPU tuning: NC [20000, 4] sorted', seed, shape: [20000, 4], layout: 'NC', pass: 'train', activation: 'relu', convention: 'keras', order: 'sorted', tuning: { ...defaultTuning, oneDispatch: false } },
  { name: 'two-level finalize, GPU tuning: NC [3001, 5] scalar, every K-th row (187 partials)', seed, shape: [3001, 5], layout: 'NC', pass: 'train', activation: 'none', convention: 'keras', tuning: { ...defaultTuning, oneDispatch: false, statsMinValuesPerThread: 16 } },
  { name: 'two-level finalize, GPU tuning: NCHW [33, 1, 128, 128] (132 chunks)', seed, shape: [33, 1, 128, 128], layout: 'NCHW', pass: 'train', activation: 'relu', convention: 'pytorch', tuning: { ...defaultTuning, oneDispatch: false, statsBytesInFlight: 8 * 1024 * 1024 } },
  ...workgroupSumCases().map((c): ForwardCase => ({ ...c, seed, pass: 'train' })),
  ...gpuTuningCases().map((c): ForwardCase => ({ ...c, seed })),
  ...sortedCases().map((c): ForwardCase => ({ ...c, seed })),
];

/**
 * Channels sorted along memory: every chain of merges (a thread's blocks, finalize's fold) then
 * meets prefixes whose means lie far from the channel's, the case the bound's R² term is for, and
 * the between-set terms carry most of M2 (a merge that got them slightly wrong fails here first).
 * Every statistics entry point, with the adapter's and the GPUs' launch plans, and a large mean.
 */
function sortedCases(): Omit<ForwardCase, 'seed'>[] {
  const base = { pass: 'train', activation: 'none', convention: 'pytorch', order: 'sorted', tuning: { oneDispatch: false } } as const;
  const shapes: [Layout, number[]][] = [
    ['NC', [4096, 3]],
    ['NHWC', [8, 17, 19, 4]],
    ['NCHW', [8, 3, 17, 19]],
    ['NCHW', [16, 4, 16, 16]],
  ];
  return [
    ...shapes.map(([layout, shape]): Omit<ForwardCase, 'seed'> => ({ ...base, name: `sorted: ${layout} [${shape}]`, shape, layout })),
    ...shapes.map(([layout, shape]): Omit<ForwardCase, 'seed'> => ({ ...base, name: `sorted, GPU tuning: ${layout} [${shape}]`, shape, layout, tuning: { ...defaultTuning, oneDispatch: false } })),
    { ...base, name: 'sorted, workgroup sums: NCHW [8, 3, 17, 19]', shape: [8, 3, 17, 19], layout: 'NCHW', tuning: { oneDispatch: false, runSegments: false } },
    { ...base, name: 'sorted, workgroup sums: NCHW [16, 4, 16, 16] (vec4)', shape: [16, 4, 16, 16], layout: 'NCHW', tuning: { oneDispatch: false, runSegments: false } },
    { ...base, name: 'sorted, every K-th row: NC [4096, 3]', shape: [4096, 3], layout: 'NC', tuning: { oneDispatch: false, blockedRows: false } },
    { ...base, name: 'sorted, mean 1e4 ± 1: NHWC [8, 17, 19, 4]', shape: [8, 17, 19, 4], layout: 'NHWC', mean: 1e4, std: 1 },
    { ...base, name: 'sorted, 78 partials per channel: NC [20000, 4]', shape: [20000, 4], layout: 'NC' },
  ];
}

/**
 * The launch plans of real GPUs (defaultTuning: workgroups of 256, ~2 MB of loads in flight, blocks
 * of four loads per thread), which the software adapter here does not pick by itself: every layout
 * in training with and without relu in both conventions, large means, slabs, and a statistics
 * dispatch above 65 535 workgroups (4-thread workgroups, short threads: 75 000 workgroups, 100 000
 * partials per channel for finalizeTree).
 */
function gpuTuningCases(): Omit<ForwardCase, 'seed'>[] {
  const gpu = { ...defaultTuning };
  return [
    ...layouts.flatMap((layout) =>
      (['none', 'relu'] as const).flatMap((activation) =>
        (['pytorch', 'keras'] as const).map((convention, k): Omit<ForwardCase, 'seed'> => {
          const shape = oddShapes[layout][(k + (activation === 'relu' ? 2 : 0)) % oddShapes[layout].length];
          return { name: `GPU tuning: ${layout} [${shape}] train ${activation} ${convention}`, shape, layout, pass: 'train', activation, convention, tuning: gpu };
        }),
      ),
    ),
    ...(['NC', 'NHWC', 'NCHW', 'NCL'] as const).map((layout): Omit<ForwardCase, 'seed'> => {
      const shape = { NC: [4096, 3], NCHW: [8, 3, 17, 19], NHWC: [8, 17, 19, 4], NCL: [16, 2, 250] }[layout];
      return { name: `GPU tuning: ${layout} [${shape}] mean 1e4 ± 1`, shape, layout, pass: 'train', activation: 'none', convention: 'keras', mean: 1e4, std: 1, tuning: gpu };
    }),
    { name: 'GPU tuning, slabs: NHWC [3, 17, 13, 5]', shape: [3, 17, 13, 5], layout: 'NHWC', pass: 'train', activation: 'relu', convention: 'pytorch', tuning: { ...gpu, maxBindingBytes: 1024 } },
    { name: 'GPU tuning, slabs: NCL [2, 3, 1001] mean 1e4 ± 1', shape: [2, 3, 1001], layout: 'NCL', pass: 'train', activation: 'none', convention: 'keras', mean: 1e4, std: 1, tuning: { ...gpu, maxBindingBytes: 1024 } },
    { name: 'GPU tuning, statistics above 65 535 workgroups: NC [400000, 3]', shape: [400000, 3], layout: 'NC', pass: 'train', activation: 'relu', convention: 'pytorch', tuning: { ...gpu, workgroupSize: 4, statsMinValuesPerThread: 4, statsBytesInFlight: 8 << 20 } },
  ];
}

/**
 * The workgroup sums of the 'Runs' statistics (NCL, NCHW, NCDHW; see shaders/workgroup-reduce*.wgsl).
 * The engine's device has `subgroups` on SwiftShader, so every case above runs the subgroups
 * variant; these force the barrier tree (useSubgroups: false), which devices without the feature
 * run, in scalar and vec4 runs, with large means, and with the GPU tuning's many partials per
 * channel (finalizeTree); and run both variants at the extreme workgroup sizes (4: one subgroup per
 * workgroup on SwiftShader; 256) and with many partials.
 */
function workgroupSumCases(): Omit<ForwardCase, 'seed' | 'pass'>[] {
  // The three-kernel path: these shapes would take one dispatch (fusedCases covers that).
  const tree = { useSubgroups: false, oneDispatch: false };
  const threeKernels = { oneDispatch: false };
  const base = { activation: 'none', convention: 'pytorch' } as const;
  const fallback: Omit<ForwardCase, 'seed' | 'pass'>[] = [
    { name: 'NCL [5, 3, 131]', shape: [5, 3, 131], layout: 'NCL', ...base, activation: 'relu' },
    { name: 'NCL [4, 8, 12] (vec4)', shape: [4, 8, 12], layout: 'NCL', ...base, convention: 'keras' },
    { name: 'NCHW [3, 5, 31, 17]', shape: [3, 5, 31, 17], layout: 'NCHW', ...base, activation: 'relu' },
    { name: 'NCHW [16, 32, 16, 16] (vec4)', shape: [16, 32, 16, 16], layout: 'NCHW', ...base, convention: 'keras' },
    { name: 'NCDHW [1, 2, 3, 5, 11]', shape: [1, 2, 3, 5, 11], layout: 'NCDHW', ...base },
    { name: 'NCDHW [1, 4, 2, 4, 4] (vec4)', shape: [1, 4, 2, 4, 4], layout: 'NCDHW', ...base, activation: 'relu' },
    { name: 'NCHW [8, 3, 17, 19] mean 1e4 ± 1', shape: [8, 3, 17, 19], layout: 'NCHW', ...base, mean: 1e4, std: 1 },
    { name: 'NCHW [4, 3, 16, 16] (vec4) mean 1e4 ± 1', shape: [4, 3, 16, 16], layout: 'NCHW', ...base, mean: 1e4, std: 1 },
  ];
  const bothVariants: [Omit<ForwardCase, 'seed' | 'pass'>, Partial<KernelTuning>][] = [
    [{ name: 'NCL [8, 2, 4099] GPU tuning (33 partials)', shape: [8, 2, 4099], layout: 'NCL', ...base, activation: 'relu' }, { ...defaultTuning, ...threeKernels }],
    [{ name: 'NCHW [16, 2, 64, 64] (vec4) GPU tuning (64 partials) mean 1e4 ± 1', shape: [16, 2, 64, 64], layout: 'NCHW', ...base, mean: 1e4, std: 1 }, { ...defaultTuning, ...threeKernels }],
    [{ name: 'NCL [2, 3, 1001] 4-thread workgroups', shape: [2, 3, 1001], layout: 'NCL', ...base, activation: 'relu' }, { workgroupSize: 4, ...threeKernels }],
    [{ name: 'NCHW [4, 6, 20, 20] (vec4) 256-thread workgroups', shape: [4, 6, 20, 20], layout: 'NCHW', ...base, convention: 'keras' }, { workgroupSize: 256, ...threeKernels }],
  ];
  return [
    ...fallback.map((c) => ({ ...c, name: `barrier tree: ${c.name}`, tuning: tree })),
    ...bothVariants.flatMap(([c, tuning]) => [
      { ...c, name: `subgroups: ${c.name}`, tuning },
      { ...c, name: `barrier tree: ${c.name}`, tuning: { ...tuning, ...tree } },
    ]),
  ];
}

function slabCases(): Omit<ForwardCase, 'seed'>[] {
  const base = { activation: 'relu', convention: 'pytorch' } as const;
  return [
    { name: 'slabs of rows: NC [1000, 12] (vec4)', shape: [1000, 12], layout: 'NC', pass: 'train', ...base },
    { name: 'slabs of rows: NC [333, 7] (unaligned rows)', shape: [333, 7], layout: 'NC', pass: 'train', ...base, convention: 'keras' },
    { name: 'slabs of rows: NHWC [3, 17, 13, 5]', shape: [3, 17, 13, 5], layout: 'NHWC', pass: 'train', ...base },
    { name: 'slabs of rows: NCHW [9, 3, 5, 7]', shape: [9, 3, 5, 7], layout: 'NCHW', pass: 'train', ...base },
    { name: 'slabs of channel ranges: NCHW [3, 5, 11, 13]', shape: [3, 5, 11, 13], layout: 'NCHW', pass: 'train', ...base },
    { name: 'slabs of channel ranges: NCL [4, 6, 40] (vec4)', shape: [4, 6, 40], layout: 'NCL', pass: 'train', ...base, activation: 'none' },
    { name: 'slabs of a run: NCL [2, 3, 1001]', shape: [2, 3, 1001], layout: 'NCL', pass: 'train', ...base },
    { name: 'slabs of a run: NCHW [2, 2, 20, 20] (vec4)', shape: [2, 2, 20, 20], layout: 'NCHW', pass: 'train', ...base },
    { name: 'slabs of a run: NCL [2, 3, 193] (last piece one value)', shape: [2, 3, 193], layout: 'NCL', pass: 'train', ...base },
    { name: 'slabs, mean 1e4 ± 1: NCHW [4, 3, 30, 30]', shape: [4, 3, 30, 30], layout: 'NCHW', pass: 'train', ...base, activation: 'none', mean: 1e4, std: 1 },
    { name: 'slabs, mean 1e4 ± 1: NC [2000, 4]', shape: [2000, 4], layout: 'NC', pass: 'train', ...base, activation: 'none', mean: 1e4, std: 1 },
    { name: 'slabs, inference: NHWC [5, 9, 9, 8]', shape: [5, 9, 9, 8], layout: 'NHWC', pass: 'inference', ...base },
    { name: 'slabs, inference: NCDHW [2, 3, 4, 5, 13]', shape: [2, 3, 4, 5, 13], layout: 'NCDHW', pass: 'inference', ...base, convention: 'keras' },
  ];
}

/**
 * The fused residual add y = act(BN(x) + z): every layout × pass × activation × convention on odd
 * shapes (a rotation of the matrix's), shapes small enough for one dispatch (which has no residual,
 * so these must take the general launches and still add z), slabs (z bound slab by slab, every
 * way of splitting), each vec4 entry point with the GPU tuning, large means of x and of z, and the
 * apply kernel above 65 535 workgroups.
 */
function residualCases(): ForwardCase[] {
  const base = { seed, residual: true } as const;
  const everyLayout = layouts.flatMap((layout) =>
    combos.map((combo, k): ForwardCase => {
      const shape = oddShapes[layout][(k + 1) % oddShapes[layout].length];
      return { ...base, name: `${layout} [${shape}] ${combo.pass} ${combo.activation} ${combo.convention}`, shape, layout, ...combo };
    }),
  );
  const train = { pass: 'train', convention: 'pytorch' } as const;
  const none = { ...train, activation: 'none' } as const;
  const relu = { ...train, activation: 'relu' } as const;
  // An engine of their own that takes one dispatch wherever it fits (the other engines' modules stay
  // as their cases expect).
  const oneDispatch = { oneDispatch: true };
  const small: ForwardCase[] = [
    { ...base, ...relu, name: 'one-dispatch size: NC [32, 64]', shape: [32, 64], layout: 'NC', tuning: oneDispatch },
    // Runs layouts take one dispatch with the register kernels (runSegments false) only.
    { ...base, ...none, name: 'one-dispatch size: NCHW [2, 3, 5, 7]', shape: [2, 3, 5, 7], layout: 'NCHW', tuning: { ...oneDispatch, runSegments: false, workgroupSize: 64 } },
    { ...base, ...relu, name: 'one-dispatch size: NHWC [4, 8, 8, 16]', shape: [4, 8, 8, 16], layout: 'NHWC', tuning: oneDispatch },
    { ...base, pass: 'inference', activation: 'relu', convention: 'keras', name: 'small inference: NCL [3, 7, 5]', shape: [3, 7, 5], layout: 'NCL', tuning: oneDispatch },
  ];
  const slabs = slabCases().map((c): ForwardCase => ({ ...c, ...base, tuning: { maxBindingBytes: 1024 } }));
  const gpuTuning = { ...defaultTuning, oneDispatch: false };
  const vec4: ForwardCase[] = [
    { ...base, ...relu, name: 'GPU tuning: NCHW [4, 16, 8, 8] (vec4 runs)', shape: [4, 16, 8, 8], layout: 'NCHW', tuning: gpuTuning },
    { ...base, ...relu, name: 'GPU tuning: NHWC [4, 8, 8, 16] (vec4 channels)', shape: [4, 8, 8, 16], layout: 'NHWC', tuning: gpuTuning, convention: 'keras' },
    { ...base, ...none, name: 'GPU tuning: NC [1000, 12] (vec4 channels)', shape: [1000, 12], layout: 'NC', tuning: gpuTuning },
    { ...base, pass: 'inference', activation: 'relu', convention: 'keras', name: 'GPU tuning: NCL [4, 8, 12] inference (vec4 runs)', shape: [4, 8, 12], layout: 'NCL', tuning: gpuTuning },
    // Inference folding in its apply with the GPU tuning: each entry point, and slabs.
    { ...base, pass: 'inference', activation: 'relu', convention: 'keras', name: 'GPU tuning, fold in apply: NCL [4, 8, 12] (vec4 runs)', shape: [4, 8, 12], layout: 'NCL', tuning: defaultTuning },
    { ...base, pass: 'inference', activation: 'none', convention: 'pytorch', name: 'GPU tuning, fold in apply: NHWC [3, 5, 7, 12] (vec4 channels)', shape: [3, 5, 7, 12], layout: 'NHWC', tuning: defaultTuning },
    { ...base, pass: 'inference', activation: 'relu', convention: 'pytorch', name: 'GPU tuning, fold in apply: NCHW [3, 7, 5, 3] (scalar)', shape: [3, 7, 5, 3], layout: 'NCHW', tuning: defaultTuning },
    { ...base, pass: 'inference', activation: 'relu', convention: 'pytorch', name: 'GPU tuning, fold in apply, slabs: NCL [5, 3, 37]', shape: [5, 3, 37], layout: 'NCL', tuning: { ...defaultTuning, maxBindingBytes: 1024 } },
  ];
  const large: ForwardCase[] = [
    { ...base, ...none, name: 'NCHW [8, 3, 17, 19] x mean 1e4 ± 1', shape: [8, 3, 17, 19], layout: 'NCHW', mean: 1e4, std: 1 },
    { ...base, ...relu, name: 'NHWC [8, 17, 19, 4] z mean 1e4 ± 1', shape: [8, 17, 19, 4], layout: 'NHWC', residualMean: 1e4 },
    { ...base, ...relu, name: 'NC [4096, 3] z mean -1e4 ± 1 (every y masked)', shape: [4096, 3], layout: 'NC', residualMean: -1e4 },
    { ...base, pass: 'inference', activation: 'none', convention: 'pytorch', name: 'NCL [16, 2, 250] inference, x and z mean 1e4 ± 1', shape: [16, 2, 250], layout: 'NCL', mean: 1e4, std: 1, residualMean: 1e4 },
  ];
  const wide: ForwardCase[] = [
    { ...base, ...none, name: 'apply above 65 535 workgroups', shape: [1, 513, 512, 1], layout: 'NHWC', tuning: { workgroupSize: 4, applyUnitsPerThread: 1 } },
    { ...base, ...relu, name: 'C = 70001 channels (NC)', shape: [5, 70001], layout: 'NC', convention: 'keras' },
  ];
  return [...everyLayout, ...small, ...slabs, ...vec4, ...large, ...wide].map((c) => ({ ...c, name: `residual: ${c.name}` }));
}

describeGpu('forward on WebGPU against the float64 reference', () => {
  let harness: HarnessPage;
  const worst = new Map<string, { output: string; maxAbs: number; maxRel: number }>();
  beforeAll(async () => {
    harness = await openHarness();
  });
  afterAll(async () => {
    await harness?.close();
    console.log('worst errors per layout and output (max abs / max rel):');
    for (const [key, w] of [...worst].sort(([a], [b]) => a.localeCompare(b))) {
      console.log(`  ${key}: ${w.maxAbs.toExponential(2)} / ${w.maxRel.toExponential(2)}`);
    }
  });

  // dtype 'float16' (the portable suite's list): Chromium's SwiftShader has no shader-f16, so here the
  // resident calls must refuse it and the host calls give the CPU path's results.
  const cases = seeds.flatMap((s) => [...matrix(), ...multiPassMatrix(), ...special, ...fusedCases(), ...residualCases(), ...float16ForwardCases(seed)].map((c) => [seeds.length > 1 ? `${c.name} (seed ${s})` : c.name, { ...c, seed: s }] as const));
  it.each(cases)('%s', async (_name, spec) => {
    const report = await harness.call('forwardCase', spec);
    if (spec.tuning?.oneDispatch === true && !spec.residual) {
      // Its engine ran the one-dispatch kernel, and never a three-kernel reduction.
      expect(report.modules.filter((name) => name.startsWith('fused-small-forward'))).not.toEqual([]);
      expect(report.modules.filter((name) => /^(stats|finalize)/.test(name))).toEqual([]);
      if (spec.pass === 'train') expect(report.dispatches).toBe(1);
    }
    // A residual add never takes one dispatch, and dispatchCount says so: reduction, finalize, apply at least.
    if (spec.residual && spec.pass === 'train') expect(report.dispatches).toBeGreaterThanOrEqual(3);
    // Inference folds inside its apply (one dispatch per slab), on this software adapter up to
    // CPU_FOLD_IN_APPLY_MAX_BYTES, but with oneDispatch false.
    if (spec.pass === 'inference' && spec.tuning?.maxBindingBytes === undefined) {
      const bytes = channelView(spec.shape, spec.layout).size * (spec.dtype === 'float16' ? 2 : 4);
      const cpu = (spec.tuning?.contiguousUnitsPerThread ?? softwareAdapterTuning.contiguousUnitsPerThread ?? 0) > 0;
      expect(report.dispatches).toBe(spec.tuning?.oneDispatch !== false && (!cpu || bytes <= CPU_FOLD_IN_APPLY_MAX_BYTES) ? 1 : 2);
    }
    if (spec.pass === 'inference' && spec.tuning?.oneDispatch === false) expect(report.modules).toContain('inference-fold');
    // Its engine ran the first level of a two-level finalize.
    if (spec.name.startsWith('two-level finalize')) expect(report.modules).toContain('partials-fold');
    expect(report.backend).toBe('webgpu');
    expect(report.inputUnmodified).toBe(true);
    expect(float16Problems(spec.dtype, report)).toEqual([]);
    recordSweepCase('forward', spec.seed, spec.name, report.checks);
    const failures = report.checks.filter((c) => c.failure !== null).map((c) => c.failure);
    expect(failures).toEqual([]);
    const family = `${spec.layout ?? 'axis 1'}${Math.abs(spec.mean ?? 0) > 100 ? ' mean 1e4' : ''}`;
    for (const c of report.checks) {
      const key = `${family} ${c.output}`;
      const current = worst.get(key);
      if (!current || c.maxAbs > current.maxAbs) worst.set(key, { output: c.output, maxAbs: c.maxAbs, maxRel: c.maxRel });
    }
  });

  it("BatchNormLayer with dtype 'float16': refused without shader-f16 (SwiftShader), the host API's results with it", async () => {
    const report = await harness.call('float16LayerCase', seed);
    expect(report.problems).toEqual([]);
  });

  it('verify mode accepts a correct result and catches a corrupted one', async () => {
    const report = await harness.call('verifyCase', { seed });
    expect(report.cleanRunPassed).toBe(true);
    expect(report.corruptedCode).toBe('verification-failed');
    expect(report.corruptedMessage).toMatch(/y\[\d+\].* on the GPU and .* on the CPU; allowed difference/);
  });
});
