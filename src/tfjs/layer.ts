import * as tf from '@tensorflow/tfjs';
import { batchNormTrainCore } from './op';

/** The config of tf.layers.batchNormalization, accepted unchanged. */
export type BatchNormalizationConfig = NonNullable<Parameters<typeof tf.layers.batchNormalization>[0]>;

/** What the stock layer keeps (private in its typings, public at run time), read by our `call`. */
interface StockBatchNormalization extends tf.layers.Layer {
  axis: number;
  momentum: number;
  epsilon: number;
  center: boolean;
  scale: boolean;
  gamma?: tf.LayerVariable;
  beta?: tf.LayerVariable;
  movingMean: tf.LayerVariable;
  movingVariance: tf.LayerVariable;
}

type StockConstructor = (new (config?: BatchNormalizationConfig) => StockBatchNormalization) & {
  fromConfig: tf.serialization.FromConfigMethod<tf.serialization.Serializable>;
};

/**
 * tfjs-layers' BatchNormalization class, found in TF.js's serialization registry (where the stock
 * layer registers itself) rather than by building a throw-away layer, which would shift the
 * automatic names of the user's layers.
 */
function stockClass(): StockConstructor {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap.BatchNormalization;
  if (!entry) throw new Error('webgpu-batchnorm/tfjs: tf.layers BatchNormalization is not registered; import @tensorflow/tfjs first');
  return entry[0] as unknown as StockConstructor;
}

const Stock = stockClass();

/**
 * The name TF.js gives a stock layer built without one (batch_normalization_BatchNormalization1, 2,
 * …): a stock layer built without a name takes the next number of the stock counter, and ours takes
 * that layer's name. A model mixing both kinds thus never holds two layers of the same name, and
 * code that finds layers by the stock prefix finds ours too. (Left to TF.js, the name would come
 * from our class name: web_gpu_batch_normalization_WebGpuBatchNormalization1.)
 */
function stockDefaultName(): string {
  return new Stock().name;
}

/**
 * A drop-in for tf.layers.batchNormalization: same config (axis, momentum, epsilon, center, scale,
 * initializers, constraints, regularizers), same weights in the same order (gamma, beta,
 * moving_mean, moving_variance), so `setWeights(stock.getWeights())` and models saved with the stock
 * layer load into it (see `withWebGpuBatchNorm`). In training (model.fit, or apply with
 * { training: true }) it runs this library's kernels through `batchNormTrain`, and updates the moving
 * statistics in the Keras convention on the GPU; inference is the stock layer's own computation.
 */
export class WebGpuBatchNormalization extends Stock {
  static className = 'WebGpuBatchNormalization';

  constructor(config?: BatchNormalizationConfig) {
    super({ ...config, name: config?.name || stockDefaultName() });
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[] {
    if (!kwargs?.training) return super.call(inputs, kwargs);
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const out = batchNormTrainCore(x, this.gamma?.read() ?? null, this.beta?.read() ?? null, {
        axis: this.axis,
        epsilon: this.epsilon,
        momentum: this.momentum,
        movingMean: this.movingMean.read(),
        movingVariance: this.movingVariance.read(),
      });
      this.movingMean.write(out.movingMean!);
      this.movingVariance.write(out.movingVariance!);
      return out.y;
    });
  }
}

tf.serialization.registerClass(WebGpuBatchNormalization as unknown as tf.serialization.SerializableConstructor<tf.layers.Layer>);

/** `tf.layers.batchNormalization(config)`, on this library's kernels. */
export function batchNormalization(config?: BatchNormalizationConfig): WebGpuBatchNormalization {
  return new WebGpuBatchNormalization(config);
}
