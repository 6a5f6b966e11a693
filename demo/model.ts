import * as tf from '@tensorflow/tfjs';
import { batchNormalization } from '../src/tfjs/index';
import { PIXELS, type DigitSet } from './mnist';

/** Which batch-norm layer the model uses: TF.js's own, or this library's on the same backend. */
export type Impl = 'stock' | 'ours';

export const BATCH_SIZE = 32;

/**
 * The classic Keras batch-normalization example: Dense 128 (relu) → BatchNorm → Dense 64 (relu) →
 * BatchNorm → Dense 10 (softmax), Adam, categorical cross-entropy. Seeded initializers, so both
 * implementations start from the same weights.
 */
export function buildModel(impl: Impl, { seed = 7, learningRate = 1e-3 } = {}): tf.Sequential {
  const bn = impl === 'ours' ? batchNormalization : tf.layers.batchNormalization;
  const dense = (units: number, activation: 'relu' | 'softmax', k: number, inputShape?: number[]) =>
    tf.layers.dense({ units, activation, inputShape, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + k }) });
  const model = tf.sequential({
    layers: [dense(128, 'relu', 0, [PIXELS]), bn({}), dense(64, 'relu', 1), bn({}), dense(10, 'softmax', 2)],
  });
  model.compile({ optimizer: tf.train.adam(learningRate), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

/** Images as a [count, 784] tensor and one-hot labels as [count, 10]. */
export function toTensors(set: DigitSet): { x: tf.Tensor2D; y: tf.Tensor2D } {
  return tf.tidy(() => ({
    x: tf.tensor2d(set.images, [set.count, PIXELS]),
    y: tf.oneHot(tf.tensor1d(set.labels, 'int32'), 10).toFloat() as tf.Tensor2D,
  }));
}

/** The class each row of `x` is given by the model (inference mode: moving statistics). */
export async function predictClasses(model: tf.LayersModel, x: tf.Tensor2D): Promise<Int32Array> {
  const predicted = tf.tidy(() => (model.predict(x, { batchSize: 500 }) as tf.Tensor).argMax(-1));
  const classes = (await predicted.data()) as Int32Array;
  predicted.dispose();
  return classes;
}

/** Fraction of the digits whose class `classes` gets right. */
export function fractionCorrect(classes: ArrayLike<number>, labels: Uint8Array): number {
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if (classes[i] === labels[i]) correct++;
  return correct / labels.length;
}

/** Fraction of `set` the model classifies correctly (inference mode: moving statistics). */
export async function accuracy(model: tf.LayersModel, x: tf.Tensor2D, labels: Uint8Array): Promise<number> {
  return fractionCorrect(await predictClasses(model, x), labels);
}
