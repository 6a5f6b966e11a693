// The kernels are plain WGSL files; Vite inlines them as strings. Nothing is ever added to this
// text at run time except an `enable` directive (see pipelines.ts).
import applySource from '../../shaders/apply.wgsl?raw';
import finalizeSource from '../../shaders/finalize.wgsl?raw';
import inferenceFoldSource from '../../shaders/inference-fold.wgsl?raw';
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
} satisfies Record<string, ShaderSource>;
