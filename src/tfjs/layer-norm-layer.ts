import * as tf from '@tensorflow/tfjs';
import { layerNormCore } from './layer-norm-op';

/** The config of tf.layers.layerNormalization, accepted unchanged. */
export type LayerNormalizationConfig = NonNullable<Parameters<typeof tf.layers.layerNormalization>[0]>;

/** What the stock layer keeps (private in its typings, public at run time), read by our `call`. */
interface StockLayerNormalization extends tf.layers.Layer {
  /** A list of non-negative axes once built. */
  axis: number | number[];
  epsilon: number;
  gamma: tf.LayerVariable | null;
  beta: tf.LayerVariable | null;
}

type StockConstructor = (new (config?: LayerNormalizationConfig) => StockLayerNormalization) & {
  fromConfig: tf.serialization.FromConfigMethod<tf.serialization.Serializable>;
};

/** tfjs-layers' LayerNormalization class, from TF.js's serialization registry (as layer.ts finds BatchNormalization). */
function stockClass(): StockConstructor {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap.LayerNormalization;
  if (!entry) throw new Error('webgpu-batchnorm/tfjs: tf.layers LayerNormalization is not registered; import @tensorflow/tfjs first');
  return entry[0] as unknown as StockConstructor;
}

const Stock = stockClass();

/**
 * The name TF.js gives a stock layer built without one (layer_normalization_LayerNormalization1,
 * …), on the stock layer's own counter, so a model mixing both kinds never repeats a name (see
 * layer.ts for batch norm's).
 */
function stockDefaultName(): string {
  return new Stock().name;
}

/**
 * A drop-in for tf.layers.layerNormalization (TF.js 4.22): the same config (axis, epsilon, center,
 * scale, initializers, regularizers), the same weights in the same order (gamma, beta), the same
 * getConfig(), so `setWeights(stock.getWeights())` and models saved with the stock layer load into
 * it (see `withWebGpuLayerNorm`). Its call runs `layerNorm`: this library's kernels on the webgpu
 * and cpu backends when the normalized axes are x's trailing ones, the stock formula otherwise. As
 * the stock layer's, it computes the same in training and in inference.
 */
export class WebGpuLayerNormalization extends Stock {
  static className = 'WebGpuLayerNormalization';

  constructor(config?: LayerNormalizationConfig) {
    super({ ...config, name: config?.name || stockDefaultName() });
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor | tf.Tensor[] {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      return layerNormCore(x, this.gamma?.read() ?? null, this.beta?.read() ?? null, { axis: this.axis, epsilon: this.epsilon }).y;
    });
  }
}

tf.serialization.registerClass(WebGpuLayerNormalization as unknown as tf.serialization.SerializableConstructor<tf.layers.Layer>);

/** `tf.layers.layerNormalization(config)`, on this library's kernels. */
export function layerNormalization(config?: LayerNormalizationConfig): WebGpuLayerNormalization {
  return new WebGpuLayerNormalization(config);
}
