export { createGpuOptimizer, GpuOptimizer } from './gpu-optimizer';
export { createCpuOptimizer, CpuOptimizer } from './cpu-optimizer';
export { resolveOptimizerOptions } from './options';
export { stateNames } from './state-names';
export type * from './types';
