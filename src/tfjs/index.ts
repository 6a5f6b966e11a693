/**
 * webgpu-batchnorm/tfjs: this library's batch-norm and layer-norm kernels inside TensorFlow.js 4.x.
 *
 *   import { batchNormalization, layerNormalization } from 'webgpu-batchnorm/tfjs';
 *   model.add(batchNormalization({ momentum: 0.99 }));   // instead of tf.layers.batchNormalization
 *   model.add(layerNormalization());                     // instead of tf.layers.layerNormalization
 *
 * On the 'webgpu' backend the kernels run on TF.js's own GPUDevice and tensor buffers, recorded
 * into TF.js's command encoder; on 'cpu' they run the library's CPU path; elsewhere stock ops.
 */
export { batchNormTrain, type BatchNormTrainOptions, type BatchNormTrainResult } from './op';
export { WebGpuBatchNormalization, batchNormalization, type BatchNormalizationConfig } from './layer';
export { layerNorm, type LayerNormOpOptions, type LayerNormOpResult } from './layer-norm-op';
export { WebGpuLayerNormalization, layerNormalization, type LayerNormalizationConfig } from './layer-norm-layer';
export { withWebGpuBatchNorm, withWebGpuLayerNorm } from './io';
export { foldModelBatchNorm, type FoldModelOptions } from './fold-model';
export { registerTfjsKernels, kernelsOnCurrentBackend } from './register';
export { TRAIN_KERNEL, TRAIN_GRAD_KERNEL } from './kernel-config';
export { LAYER_NORM_KERNEL, LAYER_NORM_RESIDUAL_KERNEL, LAYER_NORM_GRAD_KERNEL } from './layer-norm-config';
export { existingEngine as tfjsEngineFor } from './engine-cache';
export {
  registerFusedBatchNorm,
  unregisterFusedBatchNorm,
  isFusedBatchNormRegistered,
  fusedBatchNormUsage,
  type FusedBatchNormUsage,
} from './fused-batchnorm';
