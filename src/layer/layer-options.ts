import { conventionDefaults } from '../conventions';
import { BatchNormError } from '../errors';
import { isLayout } from '../layout';
import { checkEps } from '../options';
import type { Activation, Convention, Layout, TensorDtype } from '../types';

/** Options of a BatchNorm layer, named after torch.nn.BatchNorm2d. */
export interface BatchNormLayerOptions {
  numFeatures: number;
  /** Layout of the tensors this layer sees; default: channel axis 1. */
  layout?: Layout;
  eps?: number;
  /** Running-statistics momentum; `null` (PyTorch only) means a cumulative average, 1 / numBatchesTracked. */
  momentum?: number | null;
  convention?: Convention;
  /** Learnable γ and β (default true); otherwise γ = 1, β = 0 and no gradients. */
  affine?: boolean;
  /** Keep running statistics (default true); without them eval mode also uses batch statistics. */
  trackRunningStats?: boolean;
  activation?: Activation;
  /**
   * Storage of the tensors the layer's forward and backward take (x, y, dy, dx, residual, dz):
   * 'float32' (default) or 'float16', which needs `shader-f16`. γ, β, their gradients and the
   * running statistics stay float32. (CpuBatchNormLayer, on host arrays, computes in float32 either way.)
   */
  dtype?: TensorDtype;
  label?: string;
}

export type ResolvedLayerOptions = Required<Omit<BatchNormLayerOptions, 'layout' | 'momentum'>> & {
  layout: Layout | undefined;
  momentum: number | null;
};

export function resolveLayerOptions(options: BatchNormLayerOptions): ResolvedLayerOptions {
  if (options === null || typeof options !== 'object') throw new BatchNormError('invalid-option', 'layer options { numFeatures } are required');
  const { numFeatures } = options;
  if (!Number.isSafeInteger(numFeatures) || numFeatures < 1) {
    throw new BatchNormError('invalid-option', `numFeatures must be a positive integer, got ${numFeatures}`);
  }
  if (options.layout !== undefined && !isLayout(options.layout)) {
    throw new BatchNormError('invalid-layout', `unknown layout ${JSON.stringify(options.layout)}`);
  }
  const convention = options.convention ?? 'pytorch';
  if (convention !== 'pytorch' && convention !== 'keras' && convention !== 'onnx') {
    throw new BatchNormError('invalid-option', `convention must be 'pytorch', 'keras' or 'onnx', got ${JSON.stringify(convention)}`);
  }
  const eps = checkEps(options.eps ?? conventionDefaults[convention].eps);
  const momentum = options.momentum === undefined ? conventionDefaults[convention].momentum : options.momentum;
  if (momentum === null) {
    if (convention !== 'pytorch') throw new BatchNormError('invalid-momentum', 'momentum null (cumulative average) exists only in the PyTorch convention');
  } else if (typeof momentum !== 'number' || !(momentum >= 0 && momentum <= 1)) {
    throw new BatchNormError('invalid-momentum', `momentum must be in [0, 1] or null, got ${momentum}`);
  }
  const activation = options.activation ?? 'none';
  if (activation !== 'none' && activation !== 'relu') throw new BatchNormError('invalid-option', `activation must be 'none' or 'relu', got ${JSON.stringify(activation)}`);
  for (const key of ['affine', 'trackRunningStats'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'boolean') {
      throw new BatchNormError('invalid-option', `${key} must be a boolean, got ${JSON.stringify(options[key])}`);
    }
  }
  if (options.label !== undefined && typeof options.label !== 'string') throw new BatchNormError('invalid-option', 'label must be a string');
  const dtype = options.dtype ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'float16') throw new BatchNormError('invalid-option', `dtype must be 'float32' or 'float16', got ${JSON.stringify(dtype)}`);
  return {
    numFeatures,
    layout: options.layout,
    eps,
    momentum,
    convention,
    affine: options.affine ?? true,
    trackRunningStats: options.trackRunningStats ?? true,
    activation,
    dtype,
    label: options.label ?? 'BatchNormLayer',
  };
}
