/**
 * Names TF.js gives the drop-in batch-norm layer, loaded into a page by test/gpu/demo.test.ts.
 * Layers built without a name take the stock layer's prefix and its counter; named layers keep
 * their name through getConfig / fromConfig and through a save and load of a model mixing both.
 */
import * as tf from '@tensorflow/tfjs';
import { batchNormalization, WebGpuBatchNormalization } from '../../../src/tfjs/index';

export interface LayerNamingReport {
  /** Built in this order: stock, ours, ours, stock, ours with the name 'mine'. */
  built: { name: string; className: string }[];
  /** Layer names of a model mixing both kinds, all unnamed. */
  mixedModel: string[];
  /** fromConfig(getConfig()) of an unnamed layer of ours. */
  fromConfig: { name: string; className: string; configMatches: boolean };
  /** The mixed model saved and loaded again. */
  loaded: { name: string; className: string }[];
}

const describe = (layer: tf.layers.Layer) => ({ name: layer.name, className: layer.getClassName() });

export async function layerNaming(): Promise<LayerNamingReport> {
  const built = [
    tf.layers.batchNormalization(),
    batchNormalization(),
    batchNormalization({}),
    tf.layers.batchNormalization({ momentum: 0.9 }),
    batchNormalization({ name: 'mine' }),
  ].map(describe);

  const model = tf.sequential({
    layers: [tf.layers.dense({ units: 4, inputShape: [3] }), batchNormalization(), tf.layers.batchNormalization(), batchNormalization({ epsilon: 1e-2 })],
  });

  const original = batchNormalization({ momentum: 0.9 });
  const config = original.getConfig();
  // Taken first: fromConfig writes into the config it is given.
  const saved = JSON.stringify(config);
  const copy = WebGpuBatchNormalization.fromConfig(WebGpuBatchNormalization as never, config) as tf.layers.Layer;

  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler(async (a) => ((artifacts = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } })));
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts!));
  const report: LayerNamingReport = {
    built,
    mixedModel: model.layers.map((l) => l.name),
    fromConfig: { ...describe(copy), configMatches: JSON.stringify(copy.getConfig()) === saved },
    loaded: loaded.layers.map(describe),
  };
  model.dispose();
  loaded.dispose();
  return report;
}
