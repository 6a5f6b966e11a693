import type * as tf from '@tensorflow/tfjs';
import { WebGpuBatchNormalization } from './layer';

const STOCK = 'BatchNormalization';

function rewrite(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(rewrite);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    out[key] = key === 'class_name' && value === STOCK ? WebGpuBatchNormalization.className : rewrite(value);
  }
  return out;
}

/**
 * Wraps a model's IOHandler so that every stock BatchNormalization layer of the saved topology is
 * loaded as a WebGpuBatchNormalization, with its own name and weights:
 *
 *   const model = await tf.loadLayersModel(withWebGpuBatchNorm(tf.io.browserHTTPRequest(url)));
 */
export function withWebGpuBatchNorm(handler: tf.io.IOHandler): tf.io.IOHandler {
  if (typeof handler?.load !== 'function') throw new Error('withWebGpuBatchNorm needs an IOHandler with load()');
  return {
    async load() {
      const artifacts = await handler.load!();
      return { ...artifacts, modelTopology: rewrite(artifacts.modelTopology) as tf.io.ModelArtifacts['modelTopology'] };
    },
  };
}
