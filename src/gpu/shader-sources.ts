// The kernels are plain WGSL files; Vite inlines them as strings. A kernel that ends with a
// workgroup-wide sum (the 'Runs' reductions) calls workgroupSum, which a helper file put in front of
// it defines, in two versions: workgroup-reduce.wgsl (a barrier tree, for any device) and
// workgroup-reduce-subgroups.wgsl (subgroup operations; it starts with `enable subgroups;`, which
// must come first in a module and fails to compile without the feature). So such a kernel is two
// modules with distinct names, 'stats-runs' and 'stats-runs+subgroups', cached apart (pipelines.ts);
// dispatch.ts picks one per launch. The elementwise kernels (apply, backward-apply) likewise share
// their walk, elementwise-span.wgsl, the 'Rows' reductions their rows, rows-lanes.wgsl, and the
// 'Runs' reductions their Params, chunks and segments, runs-walk.wgsl. The last step of a channel's
// statistics (finalize-channel.wgsl) and of its gradients (backward-channel.wgsl) serve both the
// finalize kernels and the fused small-tensor kernels, which also share their walk
// (fused-small-walk.wgsl) and call workgroupSum. The relu rules are activation.wgsl, in front of
// every kernel that applies relu (through relu.wgsl's activate) or masks dy with it, so that the
// forward and every backward follow one rule. Every
// module's text is fixed here; nothing is added at run time.
import activationSource from '../../shaders/activation.wgsl?raw';
import applySource from '../../shaders/apply.wgsl?raw';
import backwardChannelSource from '../../shaders/backward-channel.wgsl?raw';
import backwardApplySource from '../../shaders/backward-apply.wgsl?raw';
import backwardFinalizeSource from '../../shaders/backward-finalize.wgsl?raw';
import backwardReduceRowsSource from '../../shaders/backward-reduce-rows.wgsl?raw';
import elementwiseSpanSource from '../../shaders/elementwise-span.wgsl?raw';
import rowsLanesSource from '../../shaders/rows-lanes.wgsl?raw';
import runsWalkSource from '../../shaders/runs-walk.wgsl?raw';
import backwardReduceRunsSource from '../../shaders/backward-reduce-runs.wgsl?raw';
import finalizeChannelSource from '../../shaders/finalize-channel.wgsl?raw';
import finalizeSource from '../../shaders/finalize.wgsl?raw';
import fusedSmallBackwardSource from '../../shaders/fused-small-backward.wgsl?raw';
import fusedSmallForwardSource from '../../shaders/fused-small-forward.wgsl?raw';
import fusedSmallWalkSource from '../../shaders/fused-small-walk.wgsl?raw';
import momentsSource from '../../shaders/moments.wgsl?raw';
import inferenceFoldSource from '../../shaders/inference-fold.wgsl?raw';
import optimAdamSource from '../../shaders/optim-adam.wgsl?raw';
import optimRmspropSource from '../../shaders/optim-rmsprop.wgsl?raw';
import optimSgdSource from '../../shaders/optim-sgd.wgsl?raw';
import optimStepSource from '../../shaders/optim-step.wgsl?raw';
import reluSource from '../../shaders/relu.wgsl?raw';
import statsRowsSource from '../../shaders/stats-rows.wgsl?raw';
import statsRunsSource from '../../shaders/stats-runs.wgsl?raw';
import workgroupReduceSubgroupsSource from '../../shaders/workgroup-reduce-subgroups.wgsl?raw';
import workgroupReduceSource from '../../shaders/workgroup-reduce.wgsl?raw';

export interface ShaderSource {
  /** Used in labels and as the cache key of the shader module. */
  name: string;
  code: string;
  /** The same kernel with its workgroup sums made of subgroup operations (needs the `subgroups` feature). */
  subgroups?: ShaderSource;
}

/** A kernel that calls workgroupSum: the barrier-tree module, and its subgroups variant. */
function withWorkgroupSum(name: string, kernel: string): ShaderSource {
  return {
    name,
    code: `${workgroupReduceSource}\n${kernel}`,
    subgroups: { name: `${name}+subgroups`, code: `${workgroupReduceSubgroupsSource}\n${kernel}` },
  };
}

/** The module a launch of `shader` uses: its subgroups variant when the context allows one. */
export function shaderVariant(shader: ShaderSource, subgroups: boolean): ShaderSource {
  return subgroups && shader.subgroups ? shader.subgroups : shader;
}

export const shaders = {
  statsRows: { name: 'stats-rows', code: `${rowsLanesSource}\n${momentsSource}\n${statsRowsSource}` },
  statsRuns: withWorkgroupSum('stats-runs', `${runsWalkSource}\n${momentsSource}\n${statsRunsSource}`),
  finalize: { name: 'finalize', code: `${momentsSource}\n${finalizeChannelSource}\n${finalizeSource}` },
  inferenceFold: { name: 'inference-fold', code: inferenceFoldSource },
  apply: { name: 'apply', code: `${activationSource}\n${elementwiseSpanSource}\n${reluSource}\n${applySource}` },
  backwardReduceRows: { name: 'backward-reduce-rows', code: `${activationSource}\n${rowsLanesSource}\n${backwardReduceRowsSource}` },
  backwardReduceRuns: withWorkgroupSum('backward-reduce-runs', `${activationSource}\n${runsWalkSource}\n${backwardReduceRunsSource}`),
  backwardFinalize: { name: 'backward-finalize', code: `${backwardChannelSource}\n${backwardFinalizeSource}` },
  backwardApply: { name: 'backward-apply', code: `${activationSource}\n${elementwiseSpanSource}\n${backwardApplySource}` },
  fusedSmallForward: withWorkgroupSum('fused-small-forward', `${fusedSmallWalkSource}\n${momentsSource}\n${finalizeChannelSource}\n${activationSource}\n${reluSource}\n${fusedSmallForwardSource}`),
  fusedSmallBackward: withWorkgroupSum('fused-small-backward', `${activationSource}\n${fusedSmallWalkSource}\n${backwardChannelSource}\n${fusedSmallBackwardSource}`),
  optimSgd: { name: 'optim-sgd', code: optimSgdSource },
  optimAdam: { name: 'optim-adam', code: optimAdamSource },
  optimRmsprop: { name: 'optim-rmsprop', code: optimRmspropSource },
  optimStep: { name: 'optim-step', code: optimStepSource },
} satisfies Record<string, ShaderSource>;
