/**
 * What a run measures: sizes, the shape each layout gets at a size, the floor of each op, and
 * which implementations run at which sizes. Pure functions, shared by the runner and its checks.
 */
import type { Layout } from '../../src/types';
import { normOf, type BenchDtype, type Impl, type NormOp, type Op } from './types';

/** The least traffic of each op in bytes per float32 element (bench/README.md, "The floor"). */
const float32FloorBytes: Record<Op, number> = {
  inference: 8, // read x, write y
  'forward-train': 12, // stats read x; apply reads x, writes y
  backward: 20, // reduce reads x, dy; apply reads x, dy, writes dx
  'forward-train-residual': 16, // stats read x; apply reads x and z, writes y
  'backward-residual': 24, // reduce reads x, dy; apply reads x, dy, writes dx and dz
  // The norm family counts as batch norm does: statistics per row instead of per channel.
  'layer-norm': 12, // row statistics read x; apply reads x, writes y
  'layer-norm-backward': 20, // row sums read x, dy; dx reads x, dy, writes dx
  'rms-norm': 12,
  'rms-norm-backward': 20,
  'group-norm': 12,
  'group-norm-backward': 20,
};

/** Bytes of one stored tensor value. */
export const valueBytes: Record<BenchDtype, number> = { float32: 4, float16: 2 };

/**
 * The least traffic of `op` in bytes per element with tensors of `dtype`: every floor counts tensor
 * reads and writes only (the per-channel vectors are negligible), so float16 halves each one
 * (forward-train 6, inference 4, backward 10, the residual ops 8 and 12).
 */
export function floorBytesPerElement(op: Op, dtype: BenchDtype = 'float32'): number {
  return (float32FloorBytes[op] * valueBytes[dtype]) / 4;
}

/** Bytes the copy kernel moves per element (read + write) of a tensor of `dtype`: 8 for float32, 4 for float16. */
export function copyBytesPerElement(dtype: BenchDtype = 'float32'): number {
  return 2 * valueBytes[dtype];
}

export const KB = 1024;
export const MB = 1024 * 1024;

/** Parses "64KB", "1MB", "512K", "4M", "1GB" or a plain byte count. */
export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*$/i.exec(text);
  if (!match) throw new Error(`cannot read size '${text}' (expected e.g. 64KB, 4MB)`);
  const unit = (match[2] ?? 'b').toLowerCase()[0];
  const factor = unit === 'k' ? KB : unit === 'm' ? MB : unit === 'g' ? 1024 * MB : 1;
  const bytes = Math.round(Number(match[1]) * factor);
  if (bytes < 4096) throw new Error(`size '${text}' is below 4 KB`);
  return bytes;
}

export function formatSize(bytes: number): string {
  if (bytes >= 1024 * MB && bytes % (1024 * MB) === 0) return `${bytes / (1024 * MB)} GB`;
  if (bytes >= MB && bytes % MB === 0) return `${bytes / MB} MB`;
  if (bytes >= MB) return `${(bytes / MB).toFixed(1)} MB`;
  if (bytes % KB === 0) return `${bytes / KB} KB`;
  return `${(bytes / KB).toFixed(1)} KB`;
}

/** Channels of each layout in the benchmark (NC as a dense layer's features, images as a conv layer's). */
const channelsOf: Record<Layout, number> = { NC: 128, NCL: 32, NLC: 32, NCHW: 32, NHWC: 32, NCDHW: 16, NDHWC: 16 };

/** Spatial extents tried per layout, largest first; the first that leaves a batch of at least 2 wins. */
const spatialSteps: Record<Layout, number[][]> = {
  NC: [[]],
  NCL: [[256], [64], [16], [4], [1]],
  NLC: [[256], [64], [16], [4], [1]],
  NCHW: [[32, 32], [16, 16], [8, 8], [4, 4], [1, 1]],
  NHWC: [[32, 32], [16, 16], [8, 8], [4, 4], [1, 1]],
  NCDHW: [[8, 16, 16], [8, 8, 8], [4, 4, 4], [1, 1, 1]],
  NDHWC: [[8, 16, 16], [8, 8, 8], [4, 4, 4], [1, 1, 1]],
};

/**
 * A shape of `layout` holding about `bytes` of float32: the layout's channel count (or `C`), the
 * largest spatial extent that leaves a batch N ≥ 2, and N = elements / (C · spatial), rounded down.
 */
export function shapeFor(layout: Layout, bytes: number, C = channelsOf[layout]): number[] {
  const elements = Math.floor(bytes / 4);
  const steps = spatialSteps[layout];
  let spatial = steps[steps.length - 1];
  for (const step of steps) {
    if (elements / (C * step.reduce((a, b) => a * b, 1)) >= 2) {
      spatial = step;
      break;
    }
  }
  const N = Math.max(2, Math.floor(elements / (C * spatial.reduce((a, b) => a * b, 1))));
  const channelFirst = layout.indexOf('C') === 1;
  return channelFirst ? [N, C, ...spatial] : [N, ...spatial, C];
}

export function elementsOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Small tensors every run adds for its ops and layouts, beside the size sweep: the demo model's
 * dense layer and small CNN activations, which the library runs in one dispatch (forward-train,
 * backward) where a workgroup holds a whole channel; their webgpu rows are also timed on the
 * three-kernel path, in the same run.
 */
export const smallShapes: { layout: Layout; shape: number[] }[] = [
  { layout: 'NC', shape: [32, 128] },
  { layout: 'NCHW', shape: [16, 256, 16, 16] },
  { layout: 'NHWC', shape: [32, 8, 8, 64] },
];

/**
 * The norm family's shapes. Layer and RMS norm: [rows, D] (layout NC), normalized over D, with a
 * transformer's hidden sizes (BERT-large / GPT-2 medium's 1024, BERT-base / GPT-2's 768). Group norm:
 * NCHW with a diffusion UNet's 32 groups, here of 4 channels each (C = 128).
 */
export const normHiddenSizes = [1024, 768];
export const NORM_GROUPS = 32;
export const groupNormChannels = 4 * NORM_GROUPS;

/** Small norm shapes every run adds beside its sizes: a short sequence's activations, a small UNet block. */
export const normSmallShapes: Record<'layer' | 'rms' | 'group', { layout: Layout; shape: number[] }> = {
  layer: { layout: 'NC', shape: [32, 128] },
  rms: { layout: 'NC', shape: [32, 128] },
  group: { layout: 'NCHW', shape: [2, 64, 8, 8] },
};

/** Sizes the norm ops run at without --sizes: one ≥ 4 MB with --quick, 1 MB … 64 MB otherwise. */
export const normQuickSizes = [4 * MB];
export const normDefaultSizes = [MB, 4 * MB, 16 * MB, 64 * MB];

/** The hidden sizes of --quick: one, so that the norm ops add about a minute to a quick run. */
export const normQuickHiddenSizes = [1024];

/**
 * The shapes of norm op `op` at `bytes` per tensor (layer and RMS norm: one per hidden size, with
 * rows rounded up so that a size's rows are at least that size, as the ≥ 4 MB summaries count).
 */
export function normShapesFor(op: NormOp, bytes: number, hiddenSizes = normHiddenSizes): { layout: Layout; shape: number[] }[] {
  const { kind } = normOf(op)!;
  if (kind === 'group') return [{ layout: 'NCHW', shape: shapeFor('NCHW', bytes, groupNormChannels) }];
  const elements = Math.floor(bytes / 4);
  return hiddenSizes.map((D) => ({ layout: 'NC' as Layout, shape: [Math.max(2, Math.ceil(elements / D)), D] }));
}

/**
 * Why norm op `op` cannot run on `shape` (a --shapes entry), or undefined: layer and RMS norm take
 * any shape (normalized over its last dim), group norm a channels-first one whose channels divide
 * into NORM_GROUPS groups.
 */
export function normShapeProblem(op: NormOp, layout: Layout, shape: readonly number[]): string | undefined {
  if (normOf(op)!.kind !== 'group') return undefined;
  if (layout.indexOf('C') !== 1) return `group norm runs channels-first layouts only (not ${layout})`;
  if (shape[1] % NORM_GROUPS !== 0) return `group norm's ${NORM_GROUPS} groups must divide C = ${shape[1]}`;
  return undefined;
}

export const defaultSizes = [64 * KB, 256 * KB, MB, 4 * MB, 16 * MB, 64 * MB];
export const quickSizes = [64 * KB, 256 * KB, 4 * MB, 16 * MB];
export const defaultLayouts: Layout[] = ['NC', 'NHWC', 'NCHW'];

/**
 * Largest tensor (bytes) each implementation is run at; above it the row is skipped and the
 * output says so. TF.js WebGPU takes ~0.8 s for one 4 MB forward-train on SwiftShader (and
 * tf.grads several times that), and the host paths run on the same two cores as SwiftShader.
 */
export interface Caps {
  cpu: number;
  'tfjs-webgpu': number;
  'tfjs-cpu': number;
}

export const quickCaps: Caps = { cpu: 16 * MB, 'tfjs-webgpu': 4 * MB, 'tfjs-cpu': 4 * MB };
export const fullCaps: Caps = { cpu: 64 * MB, 'tfjs-webgpu': 16 * MB, 'tfjs-cpu': 16 * MB };

export function capOf(caps: Caps, impl: Impl): number {
  return impl in caps ? caps[impl as keyof Caps] : Number.POSITIVE_INFINITY;
}
