import type * as tf from '@tensorflow/tfjs';
import { WebGpuBatchNormalization } from './layer';
import { WebGpuLayerNormalization } from './layer-norm-layer';

/** A saved topology with every layer of class `stock` renamed to class `ours`. */
function rewrite(node: unknown, stock: string, ours: string): unknown {
  if (Array.isArray(node)) return node.map((n) => rewrite(n, stock, ours));
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    out[key] = key === 'class_name' && value === stock ? ours : rewrite(value, stock, ours);
  }
  return out;
}

/** An IOHandler that loads `handler`'s model with the stock layer class `stock` replaced by `ours`. */
function withClass(name: string, handler: tf.io.IOHandler, stock: string, ours: string): tf.io.IOHandler {
  if (typeof handler?.load !== 'function') throw new Error(`${name} needs an IOHandler with load()`);
  return {
    async load() {
      const artifacts = await handler.load!();
      return { ...artifacts, modelTopology: rewrite(artifacts.modelTopology, stock, ours) as tf.io.ModelArtifacts['modelTopology'] };
    },
  };
}

/**
 * Wraps a model's IOHandler so that every stock BatchNormalization layer of the saved topology is
 * loaded as a WebGpuBatchNormalization, with its own name and weights:
 *
 *   const model = await tf.loadLayersModel(withWebGpuBatchNorm(tf.io.browserHTTPRequest(url)));
 */
export function withWebGpuBatchNorm(handler: tf.io.IOHandler): tf.io.IOHandler {
  return withClass('withWebGpuBatchNorm', handler, 'BatchNormalization', WebGpuBatchNormalization.className);
}

/**
 * The same for LayerNormalization layers, loaded as WebGpuLayerNormalization; the two compose:
 *
 *   tf.loadLayersModel(withWebGpuLayerNorm(withWebGpuBatchNorm(tf.io.browserHTTPRequest(url))));
 */
export function withWebGpuLayerNorm(handler: tf.io.IOHandler): tf.io.IOHandler {
  return withClass('withWebGpuLayerNorm', handler, 'LayerNormalization', WebGpuLayerNormalization.className);
}
