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
// picks one per launch. Every module's text is fixed here; nothing is added at run time.
import activationSource from '../../shaders/activation.wgsl?raw';
import applySource from '../../shaders/apply.wgsl?raw';
import backwardChannelSource from '../../shaders/backward-channel.wgsl?raw';
import backwardApplySource from '../../shaders/backward-apply.wgsl?raw';
import backwardFinalizeSource from '../../shaders/backward-finalize.wgsl?raw';
import backwardReduceRowsSource from '../../shaders/backward-reduce-rows.wgsl?raw';
import elementwiseSpanSource from '../../shaders/elementwise-span.wgsl?raw';
import finiteSource from '../../shaders/finite.wgsl?raw';
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
import optimAdamSource from '../../shaders/optim-adam.wgsl?raw';
import optimRmspropSource from '../../shaders/optim-rmsprop.wgsl?raw';
import optimSgdSource from '../../shaders/optim-sgd.wgsl?raw';
import optimStepSource from '../../shaders/optim-step.wgsl?raw';
import reluSource from '../../shaders/relu.wgsl?raw';
import statsRowsSource from '../../shaders/stats-rows.wgsl?raw';
import statsRunsSource from '../../shaders/stats-runs.wgsl?raw';
import sumsTreeSource from '../../shaders/sums-tree.wgsl?raw';
import workgroupReduceSubgroupsSource from '../../shaders/workgroup-reduce-subgroups.wgsl?raw';
import workgroupReduceSource from '../../shaders/workgroup-reduce.wgsl?raw';

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
  'finalize-channel': finalizeChannelSource,
  'fused-small-backward': fusedSmallBackwardSource,
  'fused-small-forward': fusedSmallForwardSource,
  'fused-small-walk': fusedSmallWalkSource,
  'inference-fold': inferenceFoldSource,
  'partials-fold': partialsFoldSource,
  moments: momentsSource,
  'moments-tree': momentsTreeSource,
  'optim-adam': optimAdamSource,
  'optim-rmsprop': optimRmspropSource,
  'optim-sgd': optimSgdSource,
  'optim-step': optimStepSource,
  relu: reluSource,
  'rows-lanes': rowsLanesSource,
  'runs-walk': runsWalkSource,
  'stats-rows': statsRowsSource,
  'stats-runs': statsRunsSource,
  'sums-tree': sumsTreeSource,
  'workgroup-reduce': workgroupReduceSource,
  'workgroup-reduce-subgroups': workgroupReduceSubgroupsSource,
};

/** The interface import and its implementation per variant. */
export const WORKGROUP_SUM = 'workgroup-sum';
const workgroupSumFile = (subgroups: boolean) => (subgroups ? 'workgroup-reduce-subgroups' : 'workgroup-reduce');

/** The names after `// #import` (or another directive) in a file, in order. */
export function directive(code: string, name: 'import' | 'expects'): string[] {
  const out: string[] = [];
  for (const match of code.matchAll(new RegExp(`^// #${name}\\s+(.+)$`, 'gm'))) out.push(...match[1].trim().split(/\s+/));
  return out;
}

/** A file's imports with the workgroup-sum interface resolved for one variant (`files`: for tests). */
export function importsOf(file: string, subgroups: boolean, files: Readonly<Record<string, string>> = wgslFiles): string[] {
  const code = files[file];
  if (code === undefined) throw new Error(`no shader file '${file}.wgsl'`);
  return directive(code, 'import').map((name) => {
    const resolved = name === WORKGROUP_SUM ? workgroupSumFile(subgroups) : name;
    if (files[resolved] === undefined) throw new Error(`${file}.wgsl imports '${name}', which is no shader file`);
    return resolved;
  });
}

/** Whether a file needs the workgroup-sum interface, directly or through its imports. */
function usesWorkgroupSum(file: string): boolean {
  return directive(wgslFiles[file], 'import').some((name) => name === WORKGROUP_SUM || usesWorkgroupSum(name));
}

/** The files of a kernel's module in the order they are put together: dependencies first, each once. */
export function linkOrder(root: string, subgroups: boolean, files: Readonly<Record<string, string>> = wgslFiles): string[] {
  const order: string[] = [];
  const visiting = new Set<string>();
  const visit = (file: string) => {
    if (order.includes(file)) return;
    if (visiting.has(file)) throw new Error(`shader imports form a cycle through ${file}.wgsl`);
    visiting.add(file);
    for (const dependency of importsOf(file, subgroups, files)) visit(dependency);
    visiting.delete(file);
    order.push(file);
  };
  visit(root);
  return order;
}

/** The module text of a kernel: `enable` directives first (WGSL requires it), then its files in link order. */
function link(root: string, subgroups: boolean): string {
  const enables = new Set<string>();
  const bodies = linkOrder(root, subgroups).map((file) =>
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
}

/** A kernel's module (and its subgroups variant where it uses workgroup sums). */
function kernel(root: string): ShaderSource {
  const source: ShaderSource = { name: root, code: link(root, false) };
  if (usesWorkgroupSum(root)) source.subgroups = { name: `${root}+subgroups`, code: link(root, true) };
  return source;
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
  optimSgd: kernel('optim-sgd'),
  optimAdam: kernel('optim-adam'),
  optimRmsprop: kernel('optim-rmsprop'),
  optimStep: kernel('optim-step'),
} satisfies Record<string, ShaderSource>;
