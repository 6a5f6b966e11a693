/**
 * `webgpu-batchnorm/advanced`: the launch knobs under the engine, for benchmarks, experiments and
 * tools that tune or inspect launches. Using the library needs none of it: `createBatchNorm` picks
 * the adapter's tuning (`autotune: true` measures it), and every option that affects results is in
 * the main entry. What is here may change between minor versions.
 */
export { defaultTuning, softwareAdapterTuning, type KernelTuning } from './gpu/tuning';
export { kernelFamilies, launchProfiles, sizeClassOf, sizeClassKey, type SizeClass } from './gpu/tuning-classes';
export type { GpuOptimizerTuning } from './optim/tuning';
