import { channelOf, splitShape } from './channel-index';

/**
 * Just enough of ONNX's protobuf format to read its backend test data (test/fixtures/onnx): a
 * TensorProto (dims, float data, raw or packed), and of a ModelProto the default domain's opset, the
 * graph's first node (op type, inputs, outputs, float and int attributes) and its initializers.
 * Field numbers from onnx/onnx.proto.
 */

interface Field {
  field: number;
  wire: number;
  /** Varint value (wire 0), or the 32-bit word (wire 5). */
  value: number;
  /** Length-delimited payload (wire 2). */
  bytes: Uint8Array;
}

function* fields(bytes: Uint8Array): Generator<Field> {
  let at = 0;
  const varint = () => {
    let result = 0;
    let scale = 1;
    for (;;) {
      const b = bytes[at++];
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // A varint value as a signed 64-bit integer: negative ints (ONNX's axis = -1) are written as ten
  // bytes of two's complement, beyond a double's exact range.
  const signedVarint = () => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = bytes[at++];
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return Number(BigInt.asIntN(64, result));
      shift += 7n;
    }
  };
  while (at < bytes.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    const empty = new Uint8Array(0);
    if (wire === 0) yield { field, wire, value: signedVarint(), bytes: empty };
    else if (wire === 5) {
      yield { field, wire, value: view.getUint32(at, true), bytes: bytes.subarray(at, at + 4) };
      at += 4;
    } else if (wire === 1) at += 8;
    else if (wire === 2) {
      const length = varint();
      yield { field, wire, value: length, bytes: bytes.subarray(at, at + length) };
      at += length;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const floats = (bytes: Uint8Array) => {
  const copy = bytes.slice();
  return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
};

export interface OnnxTensor {
  name: string;
  dims: number[];
  data: Float32Array;
}

/** A float32 TensorProto: dims (1), data_type (2, must be 1 = FLOAT), float_data (4), name (8), raw_data (9). */
export function readTensor(bytes: Uint8Array): OnnxTensor {
  const dims: number[] = [];
  let name = '';
  let type = 0;
  let data = new Float32Array(0);
  for (const f of fields(bytes)) {
    if (f.field === 1 && f.wire === 0) dims.push(f.value);
    else if (f.field === 1 && f.wire === 2) for (const d of fields(prefixVarints(f.bytes))) dims.push(d.value);
    else if (f.field === 2) type = f.value;
    else if (f.field === 4 && f.wire === 2) data = floats(f.bytes);
    else if (f.field === 8) name = text(f.bytes);
    else if (f.field === 9) data = floats(f.bytes);
  }
  if (type !== 1) throw new Error(`tensor ${name}: data_type ${type}, only FLOAT (1) is read`);
  if (data.length !== dims.reduce((a, b) => a * b, 1)) throw new Error(`tensor ${name}: ${data.length} values for dims [${dims}]`);
  return { name, dims, data };
}

/** Packed varints re-read as a run of field-1 varints (key 0x08 before each). */
function prefixVarints(bytes: Uint8Array): Uint8Array {
  const out: number[] = [];
  let start = true;
  for (const b of bytes) {
    if (start) out.push(0x08);
    out.push(b);
    start = b < 0x80;
  }
  return Uint8Array.from(out);
}

export interface OnnxNode {
  opType: string;
  inputs: string[];
  outputs: string[];
  /** Float (f, field 2) and int (i, field 3) attributes by name. */
  attributes: Record<string, number>;
}

export interface OnnxModel {
  /** The version of the default ('' or 'ai.onnx') domain the model imports. */
  opset: number;
  node: OnnxNode;
  initializers: Map<string, OnnxTensor>;
}

/**
 * ModelProto.opset_import (8: OperatorSetIdProto domain (1), version (2)) and graph (7) →
 * GraphProto.node (1) and initializer (5); NodeProto input (1), output (2), op_type (4), attribute (5).
 */
export function readModel(bytes: Uint8Array): OnnxModel {
  const top = [...fields(bytes)];
  const graph = top.find((f) => f.field === 7);
  if (!graph) throw new Error('model without a graph');
  let opset = 0;
  for (const f of top.filter((t) => t.field === 8)) {
    let domain = '';
    let version = 0;
    for (const g of fields(f.bytes)) {
      if (g.field === 1) domain = text(g.bytes);
      else if (g.field === 2) version = g.value;
    }
    if (domain === '' || domain === 'ai.onnx') opset = version;
  }
  let node: OnnxNode | undefined;
  const initializers = new Map<string, OnnxTensor>();
  for (const f of fields(graph.bytes)) {
    if (f.field === 1 && node === undefined) node = readNode(f.bytes);
    else if (f.field === 5) {
      const tensor = readTensor(f.bytes);
      initializers.set(tensor.name, tensor);
    }
  }
  if (!node) throw new Error('graph without a node');
  return { opset, node, initializers };
}

function readNode(bytes: Uint8Array): OnnxNode {
  const node: OnnxNode = { opType: '', inputs: [], outputs: [], attributes: {} };
  for (const f of fields(bytes)) {
    if (f.field === 1) node.inputs.push(text(f.bytes));
    else if (f.field === 2) node.outputs.push(text(f.bytes));
    else if (f.field === 4) node.opType = text(f.bytes);
    else if (f.field === 5) {
      let name = '';
      let value = NaN;
      for (const a of fields(f.bytes)) {
        if (a.field === 1) name = text(a.bytes);
        else if (a.field === 2 && a.wire === 5) value = new DataView(a.bytes.buffer, a.bytes.byteOffset, 4).getFloat32(0, true);
        else if (a.field === 3 && a.wire === 0) value = a.value;
      }
      node.attributes[name] = value;
    }
  }
  return node;
}

/** One of ONNX's BatchNormalization test cases, as our API takes it (channels-first layouts). */
export interface OnnxBatchNormCase {
  name: string;
  shape: number[];
  layout: 'NCL' | 'NCHW' | 'NCDHW' | 'NC';
  x: Float32Array;
  gamma: Float32Array;
  beta: Float32Array;
  runningMean: Float32Array;
  runningVar: Float32Array;
  eps: number;
  expected: Float32Array;
}

const channelsFirst = { 2: 'NC', 3: 'NCL', 4: 'NCHW', 5: 'NCDHW' } as const;

/**
 * The BatchNormalization cases of a folder of ONNX backend test data (model.onnx,
 * input_0.pb, output_0.pb per case; inference models: X, scale, B, mean, var → Y).
 * `files` reads a file of a case folder (node:fs in Node tests).
 */
export function onnxBatchNormCases(names: readonly string[], read: (name: string, file: string) => Uint8Array): OnnxBatchNormCase[] {
  return names.map((name) => {
    const { node, initializers } = readModel(read(name, 'model.onnx'));
    if (node.opType !== 'BatchNormalization' || node.inputs.length !== 5) throw new Error(`${name}: not a 5-input BatchNormalization node`);
    const x = readTensor(read(name, 'input_0.pb'));
    const y = readTensor(read(name, 'output_0.pb'));
    const [scale, bias, mean, variance] = node.inputs.slice(1).map((input) => {
      const tensor = initializers.get(input);
      if (!tensor) throw new Error(`${name}: input ${input} is not an initializer`);
      return tensor.data;
    });
    const layout = channelsFirst[x.dims.length as keyof typeof channelsFirst];
    if (!layout) throw new Error(`${name}: rank ${x.dims.length}`);
    // ONNX's default epsilon is 1e-5 (the attribute is a float32).
    return { name, shape: x.dims, layout, x: x.data, gamma: scale, beta: bias, runningMean: mean, runningVar: variance, eps: node.attributes.epsilon ?? 1e-5, expected: y.data };
  });
}

/**
 * Largest |ours − expected| as a share of the bound, per case. Both sides compute y = (x − mean) ·
 * γ / sqrt(var + eps) + β in float32 from the same float32 inputs (the expected values by PyTorch,
 * ours in float64 on the CPU path or by the inference kernel's fold and fma on a GPU); each is within
 * 8 roundings of the magnitudes it adds, |x · s| + |mean · s| + |β| with s = γ / sqrt(var + eps),
 * so they differ by at most 16ε times that, plus float32's smallest normal.
 */
export function onnxErrorShare(c: OnnxBatchNormCase, y: ArrayLike<number>): number {
  const eps32 = 2 ** -24;
  const { channels, inner } = splitShape(c.shape, c.layout);
  let worst = 0;
  for (let i = 0; i < c.expected.length; i++) {
    const ch = channelOf(i, channels, inner);
    const s = c.gamma[ch] / Math.sqrt(c.runningVar[ch] + c.eps);
    const bound = 16 * eps32 * (Math.abs(c.x[i] * s) + Math.abs(c.runningMean[ch] * s) + Math.abs(c.beta[ch])) + 2 ** -126;
    const diff = Math.abs(y[i] - c.expected[i]);
    // Written so that a NaN (or a value the test did not write) counts as out of bound.
    worst = Math.max(worst, diff <= bound ? diff / bound : Infinity);
  }
  return worst;
}

/** The cases under test/fixtures/onnx (see its README). */
export const onnxBatchNormNames = ['test_BatchNorm1d_3d_input_eval', 'test_BatchNorm2d_eval', 'test_BatchNorm2d_momentum_eval', 'test_BatchNorm3d_eval', 'test_BatchNorm3d_momentum_eval'] as const;

export type OnnxNormOp = 'LayerNormalization' | 'RMSNormalization' | 'GroupNormalization' | 'InstanceNormalization';

/**
 * One of ONNX's node tests of a normalization op (test/fixtures/onnx/test_{layer,rms,group}_normalization_*,
 * test_instancenorm_*): the model's attributes with ONNX's defaults filled in, the inputs (x, scale,
 * bias) and expected outputs (Y, and Mean and InvStdDev where the model has them) of test_data_set_0.
 */
export interface OnnxNormCase {
  name: string;
  op: OnnxNormOp;
  opset: number;
  shape: number[];
  x: Float32Array;
  scale: OnnxTensor;
  bias: OnnxTensor | undefined;
  /** epsilon (a float32 attribute), default 1e-5. */
  epsilon: number;
  /** Layer and RMS norm: the first normalized axis, default -1. */
  axis: number;
  /** GroupNormalization's num_groups. */
  numGroups: number | undefined;
  /** Layer and RMS norm: the precision of the statistics, default 1 (float32). */
  stashType: number;
  expected: { y: Float32Array; mean?: Float32Array; invStdDev?: Float32Array };
}

const normOps: readonly string[] = ['LayerNormalization', 'RMSNormalization', 'GroupNormalization', 'InstanceNormalization'];

/** A node-test case folder: model.onnx and test_data_set_0/{input,output}_k.pb, in the node's input and output order. */
export function onnxNormCase(name: string, read: (name: string, file: string) => Uint8Array): OnnxNormCase {
  const { opset, node } = readModel(read(name, 'model.onnx'));
  if (!normOps.includes(node.opType)) throw new Error(`${name}: ${node.opType} is not a normalization op`);
  const input = (k: number) => readTensor(read(name, `test_data_set_0/input_${k}.pb`));
  const output = (k: number) => readTensor(read(name, `test_data_set_0/output_${k}.pb`));
  const x = input(0);
  const a = node.attributes;
  const expected: OnnxNormCase['expected'] = { y: output(0).data };
  if (node.outputs.length > 1) expected.mean = output(1).data;
  if (node.outputs.length > 2) expected.invStdDev = output(2).data;
  return {
    name,
    op: node.opType as OnnxNormOp,
    opset,
    shape: x.dims,
    x: x.data,
    scale: input(1),
    bias: node.inputs.length > 2 ? input(2) : undefined,
    epsilon: a.epsilon ?? 1e-5,
    axis: a.axis ?? -1,
    numGroups: a.num_groups,
    stashType: a.stash_type ?? 1,
    expected,
  };
}

/**
 * The bound on |ours − expected| for ONNX's normalization data, per element. The expected values
 * come from ONNX's reference (NumPy, float32 arithmetic with float32 statistics, stash_type 1):
 * a mean of D values is off by at most L·ε of the row's largest |x| (L = ⌈log2 D⌉ + 1, pairwise
 * summation), the variance by (L + 3)·ε relative to its terms, maxDev², so invStd by half that
 * times gain = 1 + maxDev² / (var + eps) plus 2ε; y = (x − mean)·invStd·W + B adds 4 roundings
 * of its terms. With ε = 2^-24, every output is within (L + 4)·ε·gain of the magnitude of its
 * terms (y: |W·invStd|·(|x| + |mean|) + |B|; mean: the row's largest |x|; invStd: invStd), our
 * CPU path within ε of it; the bound is twice the larger, plus float32's smallest normal.
 */
export function onnxNormBound(D: number, magnitude: number, gain: number): number {
  const eps32 = 2 ** -24;
  const L = Math.ceil(Math.log2(D)) + 1;
  return 2 * (L + 4) * eps32 * gain * magnitude + 2 ** -126;
}
