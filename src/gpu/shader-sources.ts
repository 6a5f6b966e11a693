// The kernels are plain WGSL files; Vite inlines them as strings. Nothing is ever added to this
// text at run time except an `enable` directive (see pipelines.ts).
import applySource from '../../shaders/apply.wgsl?raw';
import backwardApplySource from '../../shaders/backward-apply.wgsl?raw';
import backwardFinalizeSource from '../../shaders/backward-finalize.wgsl?raw';
import backwardReduceRowsSource from '../../shaders/backward-reduce-rows.wgsl?raw';
import backwardReduceRunsSource from '../../shaders/backward-reduce-runs.wgsl?raw';
import finalizeSource from '../../shaders/finalize.wgsl?raw';
import inferenceFoldSource from '../../shaders/inference-fold.wgsl?raw';
import optimAdamSource from '../../shaders/optim-adam.wgsl?raw';
import optimRmspropSource from '../../shaders/optim-rmsprop.wgsl?raw';
import optimSgdSource from '../../shaders/optim-sgd.wgsl?raw';
import optimStepSource from '../../shaders/optim-step.wgsl?raw';
import savedStatsSource from '../../shaders/saved-stats.wgsl?raw';
import statsRowsSource from '../../shaders/stats-rows.wgsl?raw';
import statsRunsSource from '../../shaders/stats-runs.wgsl?raw';

export interface ShaderSource {
  /** Used in labels and as the cache key of the shader module. */
  name: string;
  code: string;
}

export const shaders = {
  statsRows: { name: 'stats-rows', code: statsRowsSource },
  statsRuns: { name: 'stats-runs', code: statsRunsSource },
  finalize: { name: 'finalize', code: finalizeSource },
  inferenceFold: { name: 'inference-fold', code: inferenceFoldSource },
  apply: { name: 'apply', code: applySource },
  backwardReduceRows: { name: 'backward-reduce-rows', code: backwardReduceRowsSource },
  backwardReduceRuns: { name: 'backward-reduce-runs', code: backwardReduceRunsSource },
  backwardFinalize: { name: 'backward-finalize', code: backwardFinalizeSource },
  backwardApply: { name: 'backward-apply', code: backwardApplySource },
  savedStats: { name: 'saved-stats', code: savedStatsSource },
  optimSgd: { name: 'optim-sgd', code: optimSgdSource },
  optimAdam: { name: 'optim-adam', code: optimAdamSource },
  optimRmsprop: { name: 'optim-rmsprop', code: optimRmspropSource },
  optimStep: { name: 'optim-step', code: optimStepSource },
} satisfies Record<string, ShaderSource>;
