export { createBatchNorm, BatchNorm, type CreateBatchNormOptions, type DeviceLostDetail } from './engine';
export { BatchNormError, type BatchNormErrorCode } from './errors';
export { GpuBatchNorm } from './gpu/gpu-batchnorm';
export type { GpuForwardArgs, ForwardBuffers } from './gpu/encode-forward';
export type { GpuBackwardArgs, BackwardBuffers } from './gpu/encode-backward';
export { statsBlocks, statsByteLength, statsByteOffset, tensorByteLength, type StatsBlock, type ChannelBuffers } from './gpu/resident-options';
export { toFloat16Bits, fromFloat16Bits, encodeFloat16Bits, decodeFloat16, hasFloat16Array } from './float16';
export type { AutotuneShape, AutotuneOptions, AutotuneReport, ClassTuning, CandidateTiming } from './gpu/autotune';
export type { KernelFamily, TunedClasses } from './gpu/tuning-classes';
export { memoryTuningStore, localStorageTuningStore, tuningStoreKey, type TuningStore, type KeyValueStorage } from './gpu/tuning-store';
export { libraryVersion } from './version';
export type { GpuEntry } from './gpu/device';
export { channelView, channelAxis, layouts, type ChannelView } from './layout';
export { conventionDefaults } from './conventions';
export { defaultVerifyTolerance } from './verify';
export type * from './types';
export * from './optim/index';
export { BatchNormLayer, type LayerBackwardOptions, type LayerForwardOptions } from './layer/batchnorm-layer';
export type { BatchNormLayerOptions } from './layer/layer-options';
export type { BatchNormStateDict, KerasBatchNormWeights, BatchNormStateDictInput, KerasBatchNormWeightsInput } from './layer/state-dict';
export { mergeChannelStatistics, type ChannelStatistics, type MergedChannelStatistics } from './channel-statistics';
export type { GpuStatisticsArgs } from './gpu/encode-forward';
export { CpuBatchNormLayer } from './layer/cpu-layer';
export type { LayerGradients, LayerGradientsInput, LayerSnapshot } from './layer/layer-snapshot';
export { TrainingMirror, createTrainingMirror, type TrainingMirrorParts, type TrainingMirrorOptions, type TrainingMirrorCounts } from './recovery/training-mirror';
export type { TrainingSnapshot } from './recovery/snapshot';
export { foldBatchNorm, weightLayouts, type WeightLayout, type LayerWeights, type BatchNormState, type FoldOptions, type FoldedWeights } from './fold';
export type {
  NormKind,
  NormActivation,
  LayerNormOptions,
  RmsNormOptions,
  GroupNormOptions,
  InstanceNormOptions,
  InstanceNormRunningOptions,
  NormForwardResult,
  NormSaved,
  NormBackwardOptions,
  NormBackwardResult,
} from './norms/norm-types';
export type { NormFamily, NormForwardResultWithMean, InstanceNormRunningResult, RmsNormForwardResult, NormGradients, RmsNormGradients, WithResidualGradient, ResidualNormBackwardOptions } from './norms/norm-api';
export { normEpsDefaults } from './norms/norm-options';
export { GpuNorms } from './gpu/norms/gpu-norms';
export type { NormForwardArgs, NormBackwardArgs, NormResidentCall, NormResidentOptions, NormResidentForwardBuffers, NormResidentBackwardBuffers } from './gpu/norms/encode-norms';
export type { NormView } from './norms/norm-types';
export {
  LayerNormLayer,
  RmsNormLayer,
  GroupNormLayer,
  InstanceNormLayer,
  type LayerNormLayerOptions,
  type RmsNormLayerOptions,
  type GroupNormLayerOptions,
  type InstanceNormLayerOptions,
  type NormStateDict,
  type NormStateDictInput,
  type KerasNormWeights,
  type KerasNormWeightsInput,
} from './norms/norm-layers';
