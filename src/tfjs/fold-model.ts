import * as tf from '@tensorflow/tfjs';
import { BatchNormError } from '../errors';
import { foldBatchNorm, type WeightLayout } from '../fold';
import { WebGpuBatchNormalization } from './layer';

/*
 * A TF.js layers model with its batch norms folded into the dense and convolution layers next to
 * them (see ../fold.ts): the model is rebuilt from its own topology (toJSON → modelFromJSON) with
 * the folded batch-norm layers left out, and every layer gets its weights, folded or copied.
 */

type Json = Record<string, unknown>;

/** One layer of the topology, with the layers whose output it reads. */
interface Node {
  name: string;
  className: string;
  config: Json;
  /** Names of the layers feeding it (one entry per input tensor). */
  inputs: string[];
  /** Applied more than once (a shared layer): never folded. */
  shared: boolean;
  /** The inbound entry [layer, node, tensor, kwargs] of a functional model, for rewiring. */
  inbound?: unknown[];
}

/** What a Sequential model's first layer reads: a name no layer has. */
const modelInput = '\u0000input';

const batchNormClasses = new Set(['BatchNormalization', WebGpuBatchNormalization.className]);

export interface FoldModelOptions {
  /**
   * Throw (BatchNormError 'invalid-option', naming each layer and why) when a batch norm cannot be
   * folded, instead of keeping it in the new model. Default false.
   */
  strict?: boolean;
}

/** A layer's weights before its bias (which TF.js keeps last), and the bias if it has one. */
interface LayerValues {
  weights: Float32Array[];
  shapes: number[][];
  bias: Float32Array | undefined;
}

/** How a kind of layer holds the kernel a batch norm next to it folds into (see ../fold.ts). */
interface FoldTarget {
  /** Index of that kernel among the layer's weights. */
  kernel: number;
  layout: WeightLayout;
  /** The kernel's shape as foldBatchNorm sees it in `layout`. */
  shape(kernelShape: number[]): number[];
  /** Whether a batch norm that only this layer reads can fold into it. */
  foldsBefore(config: Json): boolean;
}

/** A convolution padded with zeros would see zeros where the batch norm's output is not: only 'valid'. */
const validPadding = (config: Json) => config.padding === 'valid';
const asGiven = (shape: number[]) => shape;

const foldTargets: Record<string, FoldTarget> = {
  Dense: { kernel: 0, layout: 'IO', shape: asGiven, foldsBefore: () => true },
  Conv1D: { kernel: 0, layout: 'LIO', shape: asGiven, foldsBefore: validPadding },
  Conv2D: { kernel: 0, layout: 'HWIO', shape: asGiven, foldsBefore: validPadding },
  Conv3D: { kernel: 0, layout: 'DHWIO', shape: asGiven, foldsBefore: validPadding },
  // Kernel [kH, kW, in, multiplier]: output channel i·multiplier + m sits at flat index k with
  // k mod (in·multiplier) = i·multiplier + m, as the O axis of an HWIO kernel with one input. A batch
  // norm before it would need a bias per input channel and multiplier: kept.
  DepthwiseConv2D: { kernel: 0, layout: 'HWIO', shape: ([h, w, i, m]) => [h, w, 1, i * m], foldsBefore: () => false },
  // Depthwise, then pointwise kernel [1, 1, in·multiplier, out] and the bias: a batch norm after it
  // folds into the pointwise kernel.
  SeparableConv2D: { kernel: 1, layout: 'HWIO', shape: asGiven, foldsBefore: () => false },
};

/** Layer classes a batch norm can fold into. */
const foldableClasses = Object.keys(foldTargets);

function nodesOf(topology: Json): { nodes: Node[]; outputs: string[]; sequential: boolean } {
  const config = topology.config as Json;
  const layers = config.layers as Json[];
  if (topology.class_name === 'Sequential') {
    const nodes = layers.map((layer, k) => {
      const layerConfig = layer.config as Json;
      // The first layer reads the model's input (no layer of the list).
      const input = k === 0 ? modelInput : ((layers[k - 1].config as Json).name as string);
      return { name: layerConfig.name as string, className: layer.class_name as string, config: layerConfig, inputs: [input], shared: false };
    });
    return { nodes, outputs: nodes.length ? [nodes[nodes.length - 1].name] : [], sequential: true };
  }
  const nodes = layers.map((layer) => {
    const inboundNodes = (layer.inbound_nodes as unknown[][][]) ?? [];
    const first = inboundNodes[0] ?? [];
    return {
      name: layer.name as string,
      className: layer.class_name as string,
      config: layer.config as Json,
      inputs: first.map((entry) => entry[0] as string),
      shared: inboundNodes.length > 1,
      inbound: first[0],
    };
  });
  const outputs = (config.output_layers as unknown[][]).map((entry) => entry[0] as string);
  return { nodes, outputs, sequential: false };
}

async function valuesOf(layer: tf.layers.Layer): Promise<Float32Array[]> {
  return Promise.all(layer.getWeights().map(async (tensor) => Float32Array.from(await tensor.data())));
}

/** The channel axis of a layer's output, as a non-negative index, or undefined if not a fold target. */
function channelAxisOf(node: Node, rank: number): number | undefined {
  if (!(node.className in foldTargets)) return undefined;
  return node.className !== 'Dense' && node.config.data_format === 'channels_first' ? 1 : rank - 1;
}

function rankOf(layer: tf.layers.Layer, which: 'input' | 'output'): number {
  const tensor = layer[which] as tf.SymbolicTensor | tf.SymbolicTensor[];
  return (Array.isArray(tensor) ? tensor[0] : tensor).shape.length;
}

/**
 * Folds every batch-norm layer of a TF.js layers model (tf.layers.batchNormalization, and this
 * library's `batchNormalization`) that can be folded, and returns a new model without them whose
 * predictions match the original's in inference within float32 rounding:
 * - a BatchNormalization directly after a Dense, Conv1D, Conv2D, Conv3D, DepthwiseConv2D or
 *   SeparableConv2D layer with no activation (and no other reader of that layer's output), over its
 *   channels, is folded into that layer's kernel (the pointwise one of a separable convolution) and
 *   bias — e.g. MobileNet's depthwise convolution → BatchNorm → ReLU;
 * - otherwise, a BatchNormalization whose only reader is a Dense layer, or a Conv1D, Conv2D or
 *   Conv3D layer with 'valid' padding (zero padding would not be normalized), is folded into that
 *   layer — e.g. the Dense (relu) → BatchNorm → Dense blocks of the classic Keras example.
 * Models used as layers (a tf.sequential inside another model) are folded inside, never across
 * their boundary. Batch norms that fit neither are kept as they are (or refused with `strict`). Every weight is
 * read and every fold checked before the new model is built; the original model is left untouched,
 * and the new one is not compiled (inference: `predict`; compile it to train on).
 */
export async function foldModelBatchNorm(model: tf.LayersModel, options: FoldModelOptions = {}): Promise<tf.LayersModel> {
  if (!(model instanceof tf.LayersModel)) throw new BatchNormError('invalid-option', 'foldModelBatchNorm needs a tf.LayersModel (tf.sequential or tf.model)');
  const topology = topologyOf(model);
  const kept: string[] = [];
  const folds = await foldLevel(model, topology, kept, '');
  if (options?.strict && kept.length > 0) throw new BatchNormError('invalid-option', `foldModelBatchNorm: cannot fold ${kept.join('; ')}`);
  // The topology as toJSON gave it (a plain JSON tree), minus the folded layers.
  const result = await tf.models.modelFromJSON({ modelTopology: topology } as unknown as Parameters<typeof tf.models.modelFromJSON>[0]);
  await setWeights(model, result, folds);
  return result;
}

/** What folding one level of a model changed: layers' new weights, and the folds of nested models. */
interface LevelFolds {
  values: Map<string, LayerValues>;
  nested: Map<string, LevelFolds>;
}

/**
 * Folds the batch norms of one level of a model (its own layers; a model used as a layer is a level
 * of its own, folded inside, never across its boundary) and leaves the folded ones out of
 * `topology`. Reasons for the batch norms kept go to `kept`, named by their path.
 */
async function foldLevel(model: tf.LayersModel, topology: Json, kept: string[], path: string): Promise<LevelFolds> {
  const { nodes, outputs, sequential } = nodesOf(topology);
  const byName = new Map(nodes.map((node) => [node.name, node]));
  const removed = new Map<string, Node>();
  const consumers = (name: string) => nodes.filter((node) => !removed.has(node.name) && node.inputs.includes(name));
  const values = new Map<string, LayerValues>();
  const nested = new Map<string, LevelFolds>();

  const layerValues = async (node: Node): Promise<LayerValues> => {
    const known = values.get(node.name);
    if (known) return known;
    const layer = model.getLayer(node.name);
    const all = await valuesOf(layer);
    const shapes = layer.getWeights().map((tensor) => tensor.shape as number[]);
    const hasBias = node.config.use_bias !== false;
    const count = hasBias ? all.length - 1 : all.length;
    const current = { weights: all.slice(0, count), shapes: shapes.slice(0, count), bias: hasBias ? all[count] : undefined };
    values.set(node.name, current);
    return current;
  };

  for (const node of nodes) {
    const layer = model.getLayer(node.name);
    if (layer instanceof tf.LayersModel) {
      nested.set(node.name, await foldLevel(layer, { class_name: node.className, config: node.config }, kept, `${path}${node.name}/`));
      continue;
    }
    if (!batchNormClasses.has(node.className)) continue;
    const rank = rankOf(layer, 'input');
    const rawAxis = node.config.axis as number | number[];
    const axis = Array.isArray(rawAxis) ? (rawAxis.length === 1 ? rawAxis[0] : NaN) : rawAxis;
    const bnAxis = axis < 0 ? axis + rank : axis;
    const keep = (reason: string) => kept.push(`${path}${node.name}: ${reason}`);
    if (node.shared || node.inputs.length !== 1 || !Number.isInteger(bnAxis)) {
      keep('applied more than once, to several inputs, or over several axes');
      continue;
    }
    const producer = byName.get(node.inputs[0]);
    const readers = consumers(node.name);
    let target: { node: Node; where: 'after' | 'before' } | undefined;
    if (
      producer &&
      !producer.shared &&
      channelAxisOf(producer, rank) === bnAxis &&
      (producer.config.activation ?? 'linear') === 'linear' &&
      consumers(producer.name).length === 1 &&
      !outputs.includes(producer.name)
    ) {
      target = { node: producer, where: 'after' };
    } else if (readers.length === 1 && !outputs.includes(node.name)) {
      const reader = readers[0];
      const readerRank = rankOf(model.getLayer(reader.name), 'input');
      const fits = foldTargets[reader.className]?.foldsBefore(reader.config) ?? false;
      if (fits && !reader.shared && reader.inputs.length === 1 && channelAxisOf(reader, readerRank) === bnAxis) target = { node: reader, where: 'before' };
    }
    if (!target) {
      keep(`neither after a layer without activation whose output only it reads (${foldableClasses.join(', ')}), nor read only by a Dense or 'valid' Conv1D, Conv2D or Conv3D layer over its channels`);
      continue;
    }
    const config = node.config;
    const weights = await valuesOf(layer);
    let k = 0;
    const gamma = config.scale === false ? undefined : weights[k++];
    const beta = config.center === false ? undefined : weights[k++];
    const [runningMean, runningVar] = [weights[k], weights[k + 1]];
    const current = await layerValues(target.node);
    const fold = foldTargets[target.node.className];
    const result = foldBatchNorm(
      { weight: current.weights[fold.kernel], bias: current.bias },
      { gamma, beta, runningMean, runningVar, eps: config.epsilon as number },
      { layout: fold.layout, shape: fold.shape(current.shapes[fold.kernel]), batchNorm: target.where },
    );
    const folded = current.weights.map((w, k) => (k === fold.kernel ? result.weight : w));
    values.set(target.node.name, { weights: folded, shapes: current.shapes, bias: result.bias });
    target.node.config.use_bias = true;
    // The batch norm's readers now read what it read.
    for (const reader of readers) reader.inputs = reader.inputs.map((input) => (input === node.name ? node.inputs[0] : input));
    removed.set(node.name, node);
  }
  rebuildTopology(topology, removed, sequential);
  return { values, nested };
}

/** Every layer of the rebuilt model gets its weights: folded ones, or the original's, level by level. */
async function setWeights(original: tf.LayersModel, rebuilt: tf.LayersModel, folds: LevelFolds): Promise<void> {
  for (const layer of rebuilt.layers) {
    const nested = folds.nested.get(layer.name);
    if (nested) {
      await setWeights(original.getLayer(layer.name) as tf.LayersModel, layer as unknown as tf.LayersModel, nested);
      continue;
    }
    const current = folds.values.get(layer.name);
    const source = current ? [...current.weights, ...(current.bias ? [current.bias] : [])] : await valuesOf(original.getLayer(layer.name));
    const shapes = layer.getWeights().map((tensor) => tensor.shape);
    if (source.length === 0) continue;
    const tensors = source.map((data, k) => tf.tensor(data, shapes[k]));
    layer.setWeights(tensors);
    tf.dispose(tensors);
  }
}

/**
 * The model's topology as a plain JSON tree (toJSON), which the new model is built from. TF.js 4.22's
 * SeparableConv2D leaves depth_multiplier out of its config, so a rebuilt one would have a
 * multiplier of 1 and refuse the kernel: it is taken from the layer itself.
 */
export function topologyOf(model: tf.LayersModel): Json {
  const topology = structuredClone(model.toJSON(null, false)) as Json;
  restoreDepthMultipliers(model, topology.config as Json);
  return topology;
}

/** SeparableConv2D's depth_multiplier, from the layers of `model`, into its config (and nested models'). */
function restoreDepthMultipliers(model: tf.LayersModel, config: Json): void {
  for (const layer of config.layers as Json[]) {
    const layerConfig = layer.config as Json;
    const live = model.getLayer(layerConfig.name as string);
    if (live instanceof tf.LayersModel) restoreDepthMultipliers(live, layerConfig);
    if (layer.class_name === 'SeparableConv2D' && layerConfig.depth_multiplier == null) {
      layerConfig.depth_multiplier = (live as unknown as { depthMultiplier: number }).depthMultiplier;
    }
  }
}

/** Leaves the removed batch norms out of the topology and points their readers at their input. */
function rebuildTopology(topology: Json, removed: Map<string, Node>, sequential: boolean): void {
  const config = topology.config as Json;
  const layers = config.layers as Json[];
  if (sequential) {
    const keptLayers: Json[] = [];
    let inputShape: unknown;
    for (const layer of layers) {
      const layerConfig = layer.config as Json;
      if (removed.has(layerConfig.name as string)) {
        // The first layer carries the model's input shape: the next one takes it over.
        inputShape ??= layerConfig.batch_input_shape;
        continue;
      }
      if (inputShape !== undefined && layerConfig.batch_input_shape === undefined) layerConfig.batch_input_shape = inputShape;
      inputShape = undefined;
      keptLayers.push(layer);
    }
    config.layers = keptLayers;
    return;
  }
  // A removed layer's inbound entry [layer, node, tensor, kwargs], followed through removed chains.
  const source = (entry: unknown[]): unknown[] => {
    const node = removed.get(entry[0] as string);
    return node ? source(node.inbound as unknown[]) : entry;
  };
  const keptLayers = layers.filter((layer) => !removed.has(layer.name as string));
  for (const layer of keptLayers) {
    layer.inbound_nodes = (layer.inbound_nodes as unknown[][][]).map((inbound) => inbound.map((entry) => [...source(entry).slice(0, 3), entry[3] ?? {}]));
  }
  config.layers = keptLayers;
  config.output_layers = (config.output_layers as unknown[][]).map((entry) => source(entry).slice(0, 3));
}
