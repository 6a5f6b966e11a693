/**
 * The fixed cases of the portable suite: forward (train and inference) and backward (train and
 * eval) on every layout × activation × convention, large means, slabs (a binding cap that splits
 * small tensors), both workgroup-sum variants, the GPU tuning next to the adapter's, and the
 * optimizers. Shapes are odd (C = 1, M = 2, primes, sizes that are not multiples of 4 or of a
 * workgroup) but small: the implementations this suite targets run WebGPU on the CPU.
 */
import { layouts } from '../../src/index';
import { defaultTuning, type KernelTuning } from '../../src/advanced';
import type { BackwardCase } from '../gpu/page/backward-case';
import type { ForwardCase } from '../gpu/page/forward-case';
import type { NormCase } from '../gpu/page/norms-case';
import type { OptimizerCase } from '../gpu/page/optimizer-case';
import { oddShapes } from '../support/odd-shapes';


const activations = ['none', 'relu'] as const;
const conventions = ['pytorch', 'keras'] as const;
const slabs: Partial<KernelTuning> = { maxBindingBytes: 1024 };
const tree: Partial<KernelTuning> = { useSubgroups: false };
// The GPU launch shapes, in workgroups of 128: the most a compatibility-mode device allows (the
// browser suite runs them at the default 256).
const gpuTuning: Partial<KernelTuning> = { ...defaultTuning, workgroupSize: 128 };

export function forwardCases(seed: number): ForwardCase[] {
  const matrix = layouts.flatMap((layout) =>
    (['train', 'inference'] as const).flatMap((pass, p) =>
      activations.flatMap((activation, a) =>
        conventions.map((convention, c): ForwardCase => {
          const shape = oddShapes[layout][(4 * p + 2 * a + c) % oddShapes[layout].length];
          return { name: `${layout} [${shape}] ${pass} ${activation} ${convention}`, seed, shape, layout, pass, activation, convention };
        }),
      ),
    ),
  );
  const base = { seed, pass: 'train', activation: 'none', convention: 'pytorch' } as const;
  const special: ForwardCase[] = [
    { ...base, name: 'NC [4096, 3] mean 1e4 ± 1', shape: [4096, 3], layout: 'NC', mean: 1e4, std: 1 },
    { ...base, name: 'NCHW [8, 3, 17, 19] mean 1e4 ± 1', shape: [8, 3, 17, 19], layout: 'NCHW', mean: 1e4, std: 1 },
    { ...base, name: 'NHWC [8, 17, 19, 4] mean 1e4 ± 1', shape: [8, 17, 19, 4], layout: 'NHWC', mean: 1e4, std: 1, convention: 'keras' },
    { ...base, name: 'no affine, no running statistics', shape: [7, 9, 11], affine: false, running: false },
    { ...base, name: 'slabs of rows: NC [333, 7]', shape: [333, 7], layout: 'NC', activation: 'relu', tuning: slabs },
    { ...base, name: 'slabs of rows: NHWC [3, 17, 13, 5]', shape: [3, 17, 13, 5], layout: 'NHWC', tuning: slabs },
    { ...base, name: 'slabs of channel ranges: NCHW [3, 5, 11, 13]', shape: [3, 5, 11, 13], layout: 'NCHW', activation: 'relu', tuning: slabs },
    { ...base, name: 'slabs of a run: NCL [2, 3, 1001]', shape: [2, 3, 1001], layout: 'NCL', tuning: slabs },
    { ...base, name: 'slabs, mean 1e4 ± 1: NCHW [4, 3, 30, 30]', shape: [4, 3, 30, 30], layout: 'NCHW', mean: 1e4, std: 1, tuning: slabs },
    { ...base, name: 'slabs, inference: NCDHW [2, 3, 4, 5, 13]', shape: [2, 3, 4, 5, 13], layout: 'NCDHW', pass: 'inference', activation: 'relu', tuning: slabs },
    { ...base, name: 'GPU tuning: NC [3000, 5]', shape: [3000, 5], layout: 'NC', activation: 'relu', tuning: gpuTuning },
    // Channels sorted along memory: the merges' between-set terms carry most of M2.
    { ...base, name: 'sorted: NC [4096, 3]', shape: [4096, 3], layout: 'NC', order: 'sorted', tuning: { oneDispatch: false, blockedRows: false } },
    { ...base, name: 'sorted: NHWC [8, 17, 19, 4]', shape: [8, 17, 19, 4], layout: 'NHWC', order: 'sorted', tuning: { oneDispatch: false } },
    // One dispatch on a software adapter, a thread per channel walking its runs (vec4 and scalar).
    { ...base, name: 'sorted, one dispatch: NCHW [4, 3, 16, 16]', shape: [4, 3, 16, 16], layout: 'NCHW', order: 'sorted' },
    { ...base, name: 'sorted, one dispatch, mean 1e4 ± 1: NCL [3, 2, 333]', shape: [3, 2, 333], layout: 'NCL', order: 'sorted', mean: 1e4, std: 1 },
    { ...base, name: 'sorted, GPU tuning: NCHW [16, 4, 16, 16]', shape: [16, 4, 16, 16], layout: 'NCHW', order: 'sorted', tuning: { ...gpuTuning, oneDispatch: false } },
    { ...base, name: 'GPU tuning: NCHW [8, 6, 33, 31]', shape: [8, 6, 33, 31], layout: 'NCHW', tuning: gpuTuning },
    { ...base, name: 'GPU tuning, mean 1e4 ± 1: NCHW [16, 2, 64, 64]', shape: [16, 2, 64, 64], layout: 'NCHW', mean: 1e4, std: 1, tuning: gpuTuning },
    { ...base, name: 'barrier tree: NCHW [3, 5, 31, 17]', shape: [3, 5, 31, 17], layout: 'NCHW', activation: 'relu', tuning: tree },
    { ...base, name: 'barrier tree, GPU tuning: NCL [8, 2, 4099]', shape: [8, 2, 4099], layout: 'NCL', tuning: { ...gpuTuning, ...tree } },
    { ...base, name: 'barrier tree: NCDHW [1, 4, 2, 4, 4] (vec4)', shape: [1, 4, 2, 4, 4], layout: 'NCDHW', convention: 'keras', tuning: tree },
  ];
  return [...matrix, ...special, ...float16ForwardCases(seed)];
}

/*
 * dtype 'float16': the matrix again, plus large means, slabs, odd element counts, vec4 paths and a
 * residual. float16 holds 11 significant bits, so 1e4 ± 1 is not representable (the spacing near
 * 1e4 is 8): the large-mean cases take 1000 ± 4, where the spacing is 0.5 and the mean still cancels
 * ~250 standard deviations. Where the device has `shader-f16` (lavapipe) both paths run the float16
 * kernels; elsewhere (Deno, compatibility mode) the resident calls must refuse them and the host
 * calls give the CPU path's results.
 */
const large16 = { mean: 1000, std: 4 };

export function float16ForwardCases(seed: number): ForwardCase[] {
  const matrix = layouts.flatMap((layout) =>
    (['train', 'inference'] as const).flatMap((pass, p) =>
      activations.flatMap((activation, a) =>
        conventions.map((convention, c): ForwardCase => {
          const shape = oddShapes[layout][(4 * p + 2 * a + c + 1) % oddShapes[layout].length];
          return { name: `float16 ${layout} [${shape}] ${pass} ${activation} ${convention}`, seed, shape, layout, pass, activation, convention, dtype: 'float16' };
        }),
      ),
    ),
  );
  const base = { seed, pass: 'train', activation: 'none', convention: 'pytorch', dtype: 'float16' } as const;
  const special: ForwardCase[] = [
    { ...base, name: 'float16 NC [4096, 3] mean 1000 ± 4', shape: [4096, 3], layout: 'NC', ...large16 },
    { ...base, name: 'float16 NCHW [8, 3, 17, 19] mean 1000 ± 4, relu', shape: [8, 3, 17, 19], layout: 'NCHW', activation: 'relu', ...large16 },
    { ...base, name: 'float16 NHWC [8, 17, 19, 4] mean 1000 ± 4 (vec4)', shape: [8, 17, 19, 4], layout: 'NHWC', convention: 'keras', ...large16 },
    { ...base, name: 'float16 inference NCHW [4, 3, 16, 16] mean 1000 ± 4 (vec4)', shape: [4, 3, 16, 16], layout: 'NCHW', pass: 'inference', ...large16 },
    { ...base, name: 'float16 odd count: NCL [3, 7, 5] (105 values)', shape: [3, 7, 5], layout: 'NCL', activation: 'relu' },
    { ...base, name: 'float16 odd count, inference: NC [37, 5]', shape: [37, 5], layout: 'NC', pass: 'inference' },
    { ...base, name: 'float16 no affine, no running statistics', shape: [7, 9, 11], affine: false, running: false },
    { ...base, name: 'float16 slabs of rows: NC [333, 7] (odd count)', shape: [333, 7], layout: 'NC', activation: 'relu', tuning: slabs },
    { ...base, name: 'float16 slabs of channel ranges: NCHW [3, 5, 11, 13]', shape: [3, 5, 11, 13], layout: 'NCHW', tuning: slabs },
    { ...base, name: 'float16 slabs of a run: NCL [2, 3, 1001]', shape: [2, 3, 1001], layout: 'NCL', tuning: slabs },
    { ...base, name: 'float16 slabs, vec4 runs: NCHW [3, 3, 32, 32]', shape: [3, 3, 32, 32], layout: 'NCHW', activation: 'relu', tuning: slabs },
    { ...base, name: 'float16 slabs, inference: NCDHW [2, 3, 4, 5, 13]', shape: [2, 3, 4, 5, 13], layout: 'NCDHW', pass: 'inference', activation: 'relu', tuning: slabs },
    { ...base, name: 'float16 GPU tuning: NCHW [8, 6, 33, 31]', shape: [8, 6, 33, 31], layout: 'NCHW', tuning: gpuTuning },
    { ...base, name: 'float16 barrier tree: NCL [8, 2, 4099]', shape: [8, 2, 4099], layout: 'NCL', tuning: tree },
    { ...base, name: 'float16 residual, relu: NCHW [4, 3, 9, 11]', shape: [4, 3, 9, 11], layout: 'NCHW', activation: 'relu', residual: true },
    { ...base, name: 'float16 residual, inference: NHWC [2, 5, 5, 8] (vec4)', shape: [2, 5, 5, 8], layout: 'NHWC', pass: 'inference', residual: true },
  ];
  return [...matrix, ...special];
}

export function float16BackwardCases(seed: number): BackwardCase[] {
  const matrix = layouts.flatMap((layout) =>
    (['train', 'eval'] as const).flatMap((mode, m) =>
      activations.map((activation, a): BackwardCase => {
        const shape = oddShapes[layout][(2 * m + a + 1) % oddShapes[layout].length];
        return { name: `float16 ${layout} [${shape}] ${mode} ${activation}`, seed, shape, layout, mode, activation, dtype: 'float16' };
      }),
    ),
  );
  const base = { seed, mode: 'train', activation: 'relu', dtype: 'float16' } as const;
  const special: BackwardCase[] = [
    { ...base, name: 'float16 NC [4096, 3] mean 1000 ± 4', shape: [4096, 3], layout: 'NC', ...large16 },
    { ...base, name: 'float16 NCHW [8, 3, 16, 16] mean 1000 ± 4 eval (vec4)', shape: [8, 3, 16, 16], layout: 'NCHW', mode: 'eval', ...large16 },
    { ...base, name: 'float16 odd count: NCL [3, 7, 5]', shape: [3, 7, 5], layout: 'NCL' },
    { ...base, name: 'float16 accumulate NHWC eval', shape: [3, 5, 6, 4], layout: 'NHWC', mode: 'eval', accumulate: true },
    { ...base, name: 'float16 dx only', shape: [6, 7, 5], paramGrads: false },
    { ...base, name: 'float16 slabs NC [333, 7]', shape: [333, 7], layout: 'NC', tuning: slabs },
    { ...base, name: 'float16 slabs NCL [2, 3, 1001]', shape: [2, 3, 1001], layout: 'NCL', tuning: slabs },
    { ...base, name: 'float16 slabs, vec4: NCHW [3, 3, 32, 32] eval', shape: [3, 3, 32, 32], layout: 'NCHW', mode: 'eval', activation: 'none', tuning: slabs },
    { ...base, name: 'float16 GPU tuning: NCHW [8, 6, 33, 31]', shape: [8, 6, 33, 31], layout: 'NCHW', tuning: gpuTuning },
    { ...base, name: 'float16 residual: NCHW [4, 3, 9, 11]', shape: [4, 3, 9, 11], layout: 'NCHW', residual: true },
  ];
  return [...matrix, ...special];
}

export function backwardCases(seed: number): BackwardCase[] {
  const matrix = layouts.flatMap((layout) =>
    (['train', 'eval'] as const).flatMap((mode, m) =>
      activations.map((activation, a): BackwardCase => {
        const shape = oddShapes[layout][(2 * m + a) % oddShapes[layout].length];
        return { name: `${layout} [${shape}] ${mode} ${activation}`, seed, shape, layout, mode, activation };
      }),
    ),
  );
  const base = { seed, mode: 'train', activation: 'relu' } as const;
  const special: BackwardCase[] = [
    { ...base, name: 'NC [4096, 3] mean 1e4 ± 1', shape: [4096, 3], layout: 'NC', mean: 1e4, std: 1 },
    { ...base, name: 'NCHW [8, 3, 17, 19] mean 1e4 ± 1 eval', shape: [8, 3, 17, 19], layout: 'NCHW', mode: 'eval', mean: 1e4, std: 1 },
    { ...base, name: 'no affine (γ = 1, β = 0)', shape: [7, 9, 11], affine: false },
    { ...base, name: 'accumulate NHWC eval', shape: [3, 5, 6, 4], layout: 'NHWC', mode: 'eval', accumulate: true },
    { ...base, name: 'dx only', shape: [6, 7, 5], paramGrads: false },
    { ...base, name: 'slabs NC [333, 7]', shape: [333, 7], layout: 'NC', tuning: slabs },
    { ...base, name: 'slabs NCHW [3, 5, 11, 13] eval', shape: [3, 5, 11, 13], layout: 'NCHW', mode: 'eval', activation: 'none', tuning: slabs },
    { ...base, name: 'slabs NCL [2, 3, 1001]', shape: [2, 3, 1001], layout: 'NCL', tuning: slabs },
    { ...base, name: 'slabs, accumulate, GPU tuning: NCHW [3, 5, 11, 13]', shape: [3, 5, 11, 13], layout: 'NCHW', activation: 'none', accumulate: true, tuning: { ...gpuTuning, ...slabs } },
    { ...base, name: 'GPU tuning: NC [3000, 5]', shape: [3000, 5], layout: 'NC', tuning: gpuTuning },
    { ...base, name: 'GPU tuning: NCHW [8, 6, 33, 31]', shape: [8, 6, 33, 31], layout: 'NCHW', tuning: gpuTuning },
    { ...base, name: 'barrier tree: NCL [5, 3, 131]', shape: [5, 3, 131], layout: 'NCL', tuning: tree },
    { ...base, name: 'barrier tree, GPU tuning: NCHW [16, 2, 64, 64] mean 1e4 ± 1', shape: [16, 2, 64, 64], layout: 'NCHW', activation: 'none', mean: 1e4, std: 1, tuning: { ...gpuTuning, ...tree } },
  ];
  return [...matrix, ...special, ...float16BackwardCases(seed)];
}

export const OPTIMIZER_STEPS = 12;

export function optimizerCases(seed: number): OptimizerCase[] {
  const lengths = [1, 7, 1001, 4099];
  const configs: [string, OptimizerCase['options']][] = [
    ['sgd', { kind: 'sgd', lr: 0.05 }],
    ['sgd nesterov weight decay maximize', { kind: 'sgd', lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.01, maximize: true }],
    ['sgd momentum dampening', { kind: 'sgd', lr: 0.05, momentum: 0.9, dampening: 0.3 }],
    ['adam', { kind: 'adam', lr: 0.01 }],
    ['adam amsgrad L2 weight decay', { kind: 'adam', lr: 0.01, amsgrad: true, weightDecay: 0.01 }],
    ['adamw amsgrad maximize betas', { kind: 'adamw', lr: 0.01, betas: [0.8, 0.99], weightDecay: 0.1, amsgrad: true, maximize: true }],
    ['rmsprop', { kind: 'rmsprop', lr: 0.01 }],
    ['rmsprop centered momentum weight decay', { kind: 'rmsprop', lr: 0.01, centered: true, momentum: 0.9, weightDecay: 0.01 }],
  ];
  return [
    ...configs.map(([name, options]): OptimizerCase => ({ name, seed, options, lengths, steps: OPTIMIZER_STEPS })),
    { name: 'rmsprop centered momentum in 1 KiB binding segments', seed, options: { kind: 'rmsprop', lr: 0.01, centered: true, momentum: 0.5 }, lengths: [1, 255, 256, 257, 1001], steps: OPTIMIZER_STEPS, tuning: { maxBindingBytes: 1024 } },
    { name: 'adam amsgrad: state exported and re-imported at step 7', seed, options: { kind: 'adam', lr: 0.01, amsgrad: true }, lengths, steps: OPTIMIZER_STEPS, reloadAt: 7 },
  ];
}

/**
 * Layer, RMS, group and instance norm: every kind × activation (with and without a residual on
 * alternate kinds) on odd shapes (D = 1, a single row, primes, G = 1 and G = C, each vec4 apply),
 * large means, a tensor in slabs (forward; the backward refuses it), the barrier tree and the GPU
 * launch shapes (workgroup sums in workgroups of 128), channels-last group and instance norm, and
 * instance norm's running statistics.
 */
export function normCases(seed: number): NormCase[] {
  const shapes: Record<NormCase['kind'], Pick<NormCase, 'shape' | 'normalized' | 'groups'>[]> = {
    layer: [{ shape: [3, 7] }, { shape: [5, 1] }, { shape: [1, 13] }, { shape: [4, 3, 17], normalized: 2 }, { shape: [6, 64] }],
    rms: [{ shape: [2, 5, 11] }, { shape: [1, 97] }, { shape: [7, 1] }, { shape: [9, 68] }, { shape: [2, 2, 3, 5], normalized: 3 }],
    group: [{ shape: [2, 6, 5], groups: 3 }, { shape: [1, 8, 4], groups: 8 }, { shape: [2, 5, 3], groups: 1 }, { shape: [2, 12], groups: 4 }, { shape: [2, 8, 16], groups: 2 }],
    instance: [{ shape: [2, 3, 7] }, { shape: [1, 5, 8] }, { shape: [3, 2, 1, 1] }, { shape: [2, 4, 13, 3] }, { shape: [1, 1, 29] }],
  };
  const kinds = ['layer', 'rms', 'group', 'instance'] as const;
  const normActivations = ['none', 'relu', 'gelu', 'gelu-tanh', 'silu'] as const;
  const matrix = kinds.flatMap((kind, k) =>
    normActivations.map((activation, a): NormCase => {
      const shape = shapes[kind][a];
      const residual = (a + k) % 2 === 1;
      return { name: `${kind} [${shape.shape}] ${activation}${residual ? ' residual' : ''}`, seed, kind, activation, residual, ...shape };
    }),
  );
  const special: NormCase[] = [
    { name: 'layer mean 1e4 ± 1', seed, kind: 'layer', activation: 'gelu', shape: [16, 250], mean: 1e4, std: 1 },
    { name: 'rms mean 1e4 ± 1', seed, kind: 'rms', activation: 'silu', shape: [8, 131], mean: 1e4, std: 1 },
    { name: 'group mean 1e4 ± 1', seed, kind: 'group', activation: 'relu', residual: true, shape: [4, 6, 37], groups: 3, mean: 1e4, std: 1 },
    { name: 'slabs: layer', seed, kind: 'layer', activation: 'relu', shape: [40, 37], tuning: slabs, backward: false },
    { name: 'slabs: group vec4 runs', seed, kind: 'group', activation: 'gelu', residual: true, shape: [2, 4, 96], groups: 2, tuning: slabs, backward: false },
    { name: 'barrier tree: group', seed, kind: 'group', activation: 'gelu-tanh', shape: [3, 6, 19], groups: 2, tuning: tree },
    { name: 'GPU tuning: layer', seed, kind: 'layer', activation: 'gelu', residual: true, shape: [33, 100], tuning: gpuTuning },
    { name: 'GPU tuning: instance', seed, kind: 'instance', activation: 'silu', shape: [2, 8, 13, 11], tuning: gpuTuning },
    // The row-wise kernels: row groups walking several rows, units past a row's end, channel runs.
    { name: 'row-wise: layer, row groups', seed, kind: 'layer', activation: 'silu', residual: true, shape: [300, 64] },
    { name: 'row-wise: rms, units past the row', seed, kind: 'rms', activation: 'relu', residual: true, shape: [7, 52] },
    { name: 'row-wise: group runs', seed, kind: 'group', activation: 'gelu', residual: true, shape: [20, 6, 20], groups: 3 },
    { name: 'row-wise: instance runs, GPU tuning', seed, kind: 'instance', activation: 'relu', shape: [5, 3, 4, 12], tuning: gpuTuning },
    // Channels last: strided rows (scalar and vec4 statistics, the apply's vec4 channel blocks), large means.
    { name: 'channels last: group NHWC', seed, kind: 'group', channelsLast: true, activation: 'gelu', residual: true, shape: [2, 3, 5, 8], groups: 2 },
    { name: 'channels last: instance NLC mean 1e4 ± 1', seed, kind: 'instance', channelsLast: true, activation: 'relu', shape: [3, 17, 5], mean: 1e4, std: 1 },
    { name: 'channels last: group NDHWC GPU tuning', seed, kind: 'group', channelsLast: true, activation: 'silu', shape: [2, 2, 3, 3, 12], groups: 3, tuning: gpuTuning },
    // Instance norm's running statistics: updated (training), normalized by (inference).
    { name: 'running stats: instance training', seed, kind: 'instance', activation: 'none', shape: [3, 4, 9], running: 'train' },
    { name: 'running stats: instance inference', seed, kind: 'instance', activation: 'gelu', residual: true, shape: [2, 5, 6], running: 'eval' },
  ];
  return [...matrix, ...special];
}
