// The kernels are plain WGSL files; Vite inlines them as strings, and `link` composes a kernel's
// module from its file and the helper files it imports. WGSL has no imports of its own, so a file
// states them in a comment line the linker reads:
//
//   // #import rows-lanes moments          the files (names without .wgsl) whose declarations this
//                                          file uses; each is put in front of it, once per module,
//                                          dependencies first
//   // #expects params.rows WORKGROUP_SIZE   what a helper reads from the kernel that imports it
//
// test/node/shader-imports.test.ts checks every linked module: each declaration is defined exactly
// once, every file imports (directly) each file whose declarations it uses, every import is used,
// and every expectation is met by the module (a `params` with that field, a declared name).
//
// `workgroup-sum` is an interface with two implementations: workgroup-reduce.wgsl (a barrier tree,
// for any device) and workgroup-reduce-subgroups.wgsl (subgroup operations; it needs the
// `subgroups` feature and its `enable subgroups;`, which the linker moves to the top of the
// module). A kernel that imports it, directly or through a helper, is two modules with distinct
// names, e.g. 'stats-runs' and 'stats-runs+subgroups', cached apart (pipelines.ts); dispatch.ts
// picks one per launch.
//
// `tensor-storage` is the second interface: how the tensors (x, y, dy, dx, z, dz) are stored,
// tensor-f32.wgsl (float32) or tensor-f16.wgsl (float16, `enable f16;`). A kernel that binds
// tensors is also built as 'stats-runs+f16' (and 'stats-runs+f16+subgroups'); the launch plans
// pick the storage variant per call (tensorShader), dispatch.ts the subgroups one within it. Every
// module's text is fixed here; nothing is added at run time.
import activationSource from '../../shaders/activation.wgsl?raw';
import applySource from '../../shaders/apply.wgsl?raw';
import backwardChannelSource from '../../shaders/backward-channel.wgsl?raw';
import backwardApplySource from '../../shaders/backward-apply.wgsl?raw';
import backwardFinalizeSource from '../../shaders/backward-finalize.wgsl?raw';
import backwardReduceRowsSource from '../../shaders/backward-reduce-rows.wgsl?raw';
import elementwiseSpanSource from '../../shaders/elementwise-span.wgsl?raw';
import finiteSource from '../../shaders/finite.wgsl?raw';
import gridSource from '../../shaders/grid.wgsl?raw';
import rowsLanesSource from '../../shaders/rows-lanes.wgsl?raw';
import runsWalkSource from '../../shaders/runs-walk.wgsl?raw';
import backwardReduceRunsSource from '../../shaders/backward-reduce-runs.wgsl?raw';
import finalizeChannelSource from '../../shaders/finalize-channel.wgsl?raw';
import finalizeSource from '../../shaders/finalize.wgsl?raw';
import fusedSmallBackwardSource from '../../shaders/fused-small-backward.wgsl?raw';
import fusedSmallForwardSource from '../../shaders/fused-small-forward.wgsl?raw';
import fusedSmallWalkSource from '../../shaders/fused-small-walk.wgsl?raw';
import momentsSource from '../../shaders/moments.wgsl?raw';
import momentsTreeSource from '../../shaders/moments-tree.wgsl?raw';
import inferenceFoldSource from '../../shaders/inference-fold.wgsl?raw';
import partialsFoldSource from '../../shaders/partials-fold.wgsl?raw';
import normActivationSource from '../../shaders/norm-activation.wgsl?raw';
import normApplySource from '../../shaders/norm-apply.wgsl?raw';
import normRowWalkSource from '../../shaders/norm-row-walk.wgsl?raw';
import normRowsApplySource from '../../shaders/norm-rows-apply.wgsl?raw';
import normRowsBackwardSource from '../../shaders/norm-rows-backward.wgsl?raw';
import normRowsBackwardFoldSource from '../../shaders/norm-rows-backward-fold.wgsl?raw';
import normGradient4Source from '../../shaders/norm-gradient4.wgsl?raw';
import normBackwardApplySource from '../../shaders/norm-backward-apply.wgsl?raw';
import normBackwardParamsSource from '../../shaders/norm-backward-params.wgsl?raw';
import normBackwardRowsSource from '../../shaders/norm-backward-rows.wgsl?raw';
import normGradientSource from '../../shaders/norm-gradient.wgsl?raw';
import normRmsSource from '../../shaders/norm-rms.wgsl?raw';
import optimAdamSource from '../../shaders/optim-adam.wgsl?raw';
import optimRmspropSource from '../../shaders/optim-rmsprop.wgsl?raw';
import optimSgdSource from '../../shaders/optim-sgd.wgsl?raw';
import optimStepSource from '../../shaders/optim-step.wgsl?raw';
import reluSource from '../../shaders/relu.wgsl?raw';
import runningFoldSource from '../../shaders/running-fold.wgsl?raw';
import statsRowsSource from '../../shaders/stats-rows.wgsl?raw';
import statsRunsSource from '../../shaders/stats-runs.wgsl?raw';
import sumsTreeSource from '../../shaders/sums-tree.wgsl?raw';
import tensorF16Source from '../../shaders/tensor-f16.wgsl?raw';
import tensorF32Source from '../../shaders/tensor-f32.wgsl?raw';
import workgroupReduceSubgroupsSource from '../../shaders/workgroup-reduce-subgroups.wgsl?raw';
import workgroupReduceSource from '../../shaders/workgroup-reduce.wgsl?raw';
import type { TensorDtype } from '../types';

/** Every WGSL file of the library by name (its file name without .wgsl). */
export const wgslFiles: Readonly<Record<string, string>> = {
  activation: activationSource,
  apply: applySource,
  'backward-apply': backwardApplySource,
  'backward-channel': backwardChannelSource,
  'backward-finalize': backwardFinalizeSource,
  'backward-reduce-rows': backwardReduceRowsSource,
  'backward-reduce-runs': backwardReduceRunsSource,
  'elementwise-span': elementwiseSpanSource,
  finalize: finalizeSource,
  finite: finiteSource,
  grid: gridSource,
  'finalize-channel': finalizeChannelSource,
  'fused-small-backward': fusedSmallBackwardSource,
  'fused-small-forward': fusedSmallForwardSource,
  'fused-small-walk': fusedSmallWalkSource,
  'inference-fold': inferenceFoldSource,
  'partials-fold': partialsFoldSource,
  moments: momentsSource,
  'moments-tree': momentsTreeSource,
  'norm-activation': normActivationSource,
  'norm-apply': normApplySource,
  'norm-row-walk': normRowWalkSource,
  'norm-rows-apply': normRowsApplySource,
  'norm-rows-backward': normRowsBackwardSource,
  'norm-rows-backward-fold': normRowsBackwardFoldSource,
  'norm-gradient4': normGradient4Source,
  'norm-backward-apply': normBackwardApplySource,
  'norm-backward-params': normBackwardParamsSource,
  'norm-backward-rows': normBackwardRowsSource,
  'norm-gradient': normGradientSource,
  'norm-rms': normRmsSource,
  'optim-adam': optimAdamSource,
  'optim-rmsprop': optimRmspropSource,
  'optim-sgd': optimSgdSource,
  'optim-step': optimStepSource,
  relu: reluSource,
  'rows-lanes': rowsLanesSource,
  'runs-walk': runsWalkSource,
  'running-fold': runningFoldSource,
  'stats-rows': statsRowsSource,
  'stats-runs': statsRunsSource,
  'sums-tree': sumsTreeSource,
  'tensor-f16': tensorF16Source,
  'tensor-f32': tensorF32Source,
  'workgroup-reduce': workgroupReduceSource,
  'workgroup-reduce-subgroups': workgroupReduceSubgroupsSource,
};

export type { TensorDtype };

/** Bytes of one tensor element in storage. */
export function elementBytes(dtype: TensorDtype): number {
  return dtype === 'float16' ? 2 : 4;
}

/** One module of a kernel: which implementation each interface import resolves to. */
export interface Variant {
  subgroups: boolean;
  dtype: TensorDtype;
}

/** The interface imports and their implementation per variant. */
export const WORKGROUP_SUM = 'workgroup-sum';
export const TENSOR_STORAGE = 'tensor-storage';
const interfaces: Record<string, (variant: Variant) => string> = {
  [WORKGROUP_SUM]: (variant) => (variant.subgroups ? 'workgroup-reduce-subgroups' : 'workgroup-reduce'),
  [TENSOR_STORAGE]: (variant) => (variant.dtype === 'float16' ? 'tensor-f16' : 'tensor-f32'),
};

/** The names after `// #import` (or another directive) in a file, in order. */
export function directive(code: string, name: 'import' | 'expects'): string[] {
  const out: string[] = [];
  for (const match of code.matchAll(new RegExp(`^// #${name}\\s+(.+)$`, 'gm'))) out.push(...match[1].trim().split(/\s+/));
  return out;
}

/** A file's imports with the interfaces resolved for one variant (`files`: for tests). */
export function importsOf(file: string, variant: Variant, files: Readonly<Record<string, string>> = wgslFiles): string[] {
  const code = files[file];
  if (code === undefined) throw new Error(`no shader file '${file}.wgsl'`);
  return directive(code, 'import').map((name) => {
    const resolved = interfaces[name]?.(variant) ?? name;
    if (files[resolved] === undefined) throw new Error(`${file}.wgsl imports '${name}', which is no shader file`);
    return resolved;
  });
}

/** Whether a file needs an interface, directly or through its imports. */
function usesInterface(file: string, name: string): boolean {
  return directive(wgslFiles[file], 'import').some((imported) => imported === name || (interfaces[imported] === undefined && usesInterface(imported, name)));
}

/** The files of a kernel's module in the order they are put together: dependencies first, each once. */
export function linkOrder(root: string, variant: Variant, files: Readonly<Record<string, string>> = wgslFiles): string[] {
  const order: string[] = [];
  const visiting = new Set<string>();
  const visit = (file: string) => {
    if (order.includes(file)) return;
    if (visiting.has(file)) throw new Error(`shader imports form a cycle through ${file}.wgsl`);
    visiting.add(file);
    for (const dependency of importsOf(file, variant, files)) visit(dependency);
    visiting.delete(file);
    order.push(file);
  };
  visit(root);
  return order;
}

/** The module text of a kernel: `enable` directives first (WGSL requires it), then its files in link order. */
function link(root: string, variant: Variant): string {
  const enables = new Set<string>();
  const bodies = linkOrder(root, variant).map((file) =>
    wgslFiles[file].replace(/^enable [^;]+;\s*$/gm, (line) => {
      enables.add(line.trim());
      return '';
    }),
  );
  return [...enables, ...bodies].join('\n');
}

export interface ShaderSource {
  /** Used in labels and as the cache key of the shader module. */
  name: string;
  code: string;
  /** The same kernel with its workgroup sums made of subgroup operations (needs the `subgroups` feature). */
  subgroups?: ShaderSource;
  /** The same kernel on float16 tensors (needs the `shader-f16` feature), where it binds tensors. */
  float16?: ShaderSource;
}

/** One storage variant of a kernel, with its subgroups variant where it uses workgroup sums. */
function storageVariant(root: string, dtype: TensorDtype): ShaderSource {
  const suffix = dtype === 'float16' ? '+f16' : '';
  const source: ShaderSource = { name: `${root}${suffix}`, code: link(root, { subgroups: false, dtype }) };
  if (usesInterface(root, WORKGROUP_SUM)) source.subgroups = { name: `${root}${suffix}+subgroups`, code: link(root, { subgroups: true, dtype }) };
  return source;
}

/** A kernel's modules: float32 tensors, and float16 ones where it binds tensors. */
function kernel(root: string): ShaderSource {
  const source = storageVariant(root, 'float32');
  if (usesInterface(root, TENSOR_STORAGE)) source.float16 = storageVariant(root, 'float16');
  return source;
}

/** The module of `shader` for tensors stored as `dtype` (a kernel that binds none has one for all). */
export function tensorShader(shader: ShaderSource, dtype: TensorDtype): ShaderSource {
  if (dtype === 'float32' || !usesTensors(shader)) return shader;
  return shader.float16!;
}

function usesTensors(shader: ShaderSource): boolean {
  return shader.float16 !== undefined;
}

/** The module a launch of `shader` uses: its subgroups variant when the context allows one. */
export function shaderVariant(shader: ShaderSource, subgroups: boolean): ShaderSource {
  return subgroups && shader.subgroups ? shader.subgroups : shader;
}

export const shaders = {
  statsRows: kernel('stats-rows'),
  statsRuns: kernel('stats-runs'),
  partialsFold: kernel('partials-fold'),
  finalize: kernel('finalize'),
  inferenceFold: kernel('inference-fold'),
  apply: kernel('apply'),
  backwardReduceRows: kernel('backward-reduce-rows'),
  backwardReduceRuns: kernel('backward-reduce-runs'),
  backwardFinalize: kernel('backward-finalize'),
  backwardApply: kernel('backward-apply'),
  fusedSmallForward: kernel('fused-small-forward'),
  fusedSmallBackward: kernel('fused-small-backward'),
  normApply: kernel('norm-apply'),
  normRowsApply: kernel('norm-rows-apply'),
  normRowsBackward: kernel('norm-rows-backward'),
  normRowsBackwardFold: kernel('norm-rows-backward-fold'),
  normRms: kernel('norm-rms'),
  normBackwardRows: kernel('norm-backward-rows'),
  normBackwardParams: kernel('norm-backward-params'),
  normBackwardApply: kernel('norm-backward-apply'),
  optimSgd: kernel('optim-sgd'),
  optimAdam: kernel('optim-adam'),
  optimRmsprop: kernel('optim-rmsprop'),
  optimStep: kernel('optim-step'),
} satisfies Record<string, ShaderSource>;
