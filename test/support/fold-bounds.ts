/*
 * The bound a folded TF.js model is checked against (foldModelBatchNorm, src/tfjs/fold-model.ts),
 * shared by the Node test on TF.js's CPU backend and the page case on its WebGPU backend.
 * Browser-safe: TF.js only.
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
import * as tf from '@tensorflow/tfjs';
import { foldBatchNorm, type WeightLayout } from '../../src/index';
import { topologyOf } from '../../src/tfjs/fold-model';
import { normals, uniforms, type Rng } from './random';

const u = 2 ** -24;
export const batchNormClasses = ['BatchNormalization', 'WebGpuBatchNormalization'];

type Json = Record<string, unknown>;
type WeightTransform = (layer: tf.layers.Layer, values: Float32Array[]) => Float32Array[];

/** A copy of `model` through its JSON topology, its last activation linear, its weights transformed. */
async function cloneWith(model: tf.LayersModel, transform: WeightTransform): Promise<tf.LayersModel> {
  const topology = topologyOf(model);
  const config = topology.config as Json;
  const layers = config.layers as Json[];
  const outputs = topology.class_name === 'Sequential' ? [(layers[layers.length - 1].config as Json).name] : (config.output_layers as unknown[][]).map((entry) => entry[0]);
  for (const layer of layers) {
    const layerConfig = layer.config as Json;
    if (outputs.includes(layerConfig.name) && 'activation' in layerConfig) layerConfig.activation = 'linear';
  }
  const copy = await tf.models.modelFromJSON({ modelTopology: topology } as unknown as Parameters<typeof tf.models.modelFromJSON>[0]);
  await copyWeights(model, copy, transform);
  return copy;
}

/** Layer by layer (into models used as layers), `source`'s weights transformed into `target`. */
async function copyWeights(source: tf.LayersModel, target: tf.LayersModel, transform: WeightTransform): Promise<void> {
  for (const layer of target.layers) {
    const from = source.getLayer(layer.name);
    if (from instanceof tf.LayersModel) {
      await copyWeights(from, layer as unknown as tf.LayersModel, transform);
      continue;
    }
    const values = await Promise.all(from.getWeights().map(async (t) => Float32Array.from(await t.data())));
    if (values.length === 0) continue;
    const tensors = transform(from, values).map((v, k) => tf.tensor(v, from.getWeights()[k].shape));
    layer.setWeights(tensors);
    tf.dispose(tensors);
  }
}

/** The layers of a model, those of models used as layers in their place. */
export function allLayers(model: tf.LayersModel): tf.layers.Layer[] {
  return model.layers.flatMap((layer) => (layer instanceof tf.LayersModel ? allLayers(layer) : [layer]));
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

/**
 * Σ over the dense and convolution layers of (K + 6), K the products each output sums: all of the
 * kernel but its output axis; a depthwise kernel's spatial positions; a separable convolution's
 * depthwise positions plus its pointwise inputs (an error of the depthwise sums reaches the output
 * through the pointwise kernel, whose magnitude network bounds it as it bounds the output).
 */
function roundingCount(model: tf.LayersModel): number {
  let total = 0;
  for (const layer of allLayers(model)) {
    const shapes = layer.getWeights().map((w) => w.shape as number[]);
    const product = (dims: number[]) => dims.reduce((a, b) => a * b, 1);
    const name = layer.getClassName();
    if (name === 'Dense' || name === 'Conv1D' || name === 'Conv2D' || name === 'Conv3D') total += product(shapes[0].slice(0, -1)) + 6;
    if (name === 'DepthwiseConv2D') total += product(shapes[0].slice(0, 2)) + 6;
    if (name === 'SeparableConv2D') total += product(shapes[0].slice(0, 2)) + shapes[1][2] + 6;
  }
  return total;
}

export function randomizeBatchNorms(model: tf.LayersModel, rng: Rng): void {
  for (const layer of allLayers(model)) {
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

export const predict = async (model: tf.LayersModel, x: tf.Tensor): Promise<Float32Array> => {
  const y = model.predict(x) as tf.Tensor;
  const values = Float32Array.from(await y.data());
  y.dispose();
  return values;
};

export interface FoldedErrors {
  /** Largest |Δ| / allowed over the logits and over the predictions (behind a softmax); ≤ 1 passes. */
  logitsUsed: number;
  predictionsUsed: number;
}

/** How far `folded` (foldModelBatchNorm's result for `model`) is from `model` on x, against the bounds. */
export async function foldedErrors(model: tf.LayersModel, folded: tf.LayersModel, x: tf.Tensor, classes: number): Promise<FoldedErrors> {
  const identity: WeightTransform = (_layer, values) => values;
  const [logits, foldedLogits, magnitude] = await Promise.all([cloneWith(model, identity), cloneWith(folded, identity), cloneWith(model, magnitudeWeights)]);
  const z = await predict(logits, x);
  const zFolded = await predict(foldedLogits, x);
  const absX = tf.abs(x);
  const m = await predict(magnitude, absX);
  absX.dispose();
  const count = roundingCount(model);
  let logitsUsed = 0;
  const bounds = z.map((_, k) => 2 * u * count * m[k]);
  z.forEach((v, k) => {
    const diff = Math.abs(zFolded[k] - v);
    logitsUsed = Math.max(logitsUsed, diff === 0 ? 0 : diff / bounds[k]);
  });

  // With a softmax output, the predictions too (otherwise they are the logits).
  const last = model.outputs[0].sourceLayer as tf.layers.Layer;
  let predictionsUsed = logitsUsed;
  if (last.getConfig().activation === 'softmax') {
    const p = await predict(model, x);
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
  for (const made of [logits, foldedLogits, magnitude]) made.dispose();
  return { logitsUsed, predictionsUsed };
}

/**
 * Whether the folded model's kernel and bias of `into` are exactly foldBatchNorm's for the original
 * layer and batch norm (whose numbers test/node/fold.test.ts checks to u): that the model fold reads
 * γ, β, the moving statistics and epsilon where TF.js keeps them. Returns what differs, if anything.
 */
export async function foldedWeightsDiffer(model: tf.LayersModel, folded: tf.LayersModel, into: string, batchNorm: string, where: 'after' | 'before'): Promise<string | undefined> {
  const read = (layer: tf.layers.Layer) => Promise.all(layer.getWeights().map(async (t) => Float32Array.from(await t.data())));
  const layer = model.getLayer(into);
  const weights = await read(layer);
  const bn = model.getLayer(batchNorm);
  const { gamma, beta, mean, variance, eps } = batchNormParts(bn, await read(bn));
  // The kernel the batch norm folds into, and how foldBatchNorm is to read it.
  const name = layer.getClassName();
  const at = name === 'SeparableConv2D' ? 1 : 0;
  const shape = layer.getWeights()[at].shape as number[];
  const layouts: Record<string, WeightLayout> = { Dense: 'IO', Conv1D: 'LIO', Conv3D: 'DHWIO' };
  const layout = layouts[name] ?? 'HWIO';
  const foldShape = name === 'DepthwiseConv2D' ? [shape[0], shape[1], 1, shape[2] * shape[3]] : shape;
  const bias = layer.getConfig().useBias === false ? undefined : weights[weights.length - 1];
  const expected = foldBatchNorm({ weight: weights[at], bias }, { gamma, beta, runningMean: mean, runningVar: variance, eps }, { layout, shape: foldShape, batchNorm: where });
  const foldedWeights = await read(folded.getLayer(into));
  const [foldedKernel, foldedBias] = [foldedWeights[at], foldedWeights[foldedWeights.length - 1]];
  // The other weights (a separable convolution's depthwise kernel) are copied as they were.
  for (let k = 0; k < at; k++) if (!foldedWeights[k].every((v, i) => Object.is(v, weights[k][i]))) return `${into}: weight ${k} changed`;
  const same = (a: Float32Array | undefined, b: Float32Array) => a !== undefined && a.length === b.length && a.every((v, k) => Object.is(v, b[k]));
  if (!same(foldedKernel, expected.weight)) return `${into}: the folded kernel is not foldBatchNorm's`;
  if (!same(foldedBias, expected.bias)) return `${into}: the folded bias is not foldBatchNorm's`;
  return undefined;
}
