export { createGpuOptimizer, GpuOptimizer } from './gpu-optimizer';
export { createCpuOptimizer, CpuOptimizer } from './cpu-optimizer';
export { resolveOptimizerOptions } from './options';
export { stateNames } from './state-names';
export type { GpuOptimizerTuning } from './tuning';
export type * from './types';
