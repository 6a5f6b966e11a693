import { BatchNormError } from '../errors';
import type { ChannelView } from '../layout';

/**
 * How a tensor is split for the kernels: into slabs, each within one storage binding, and a
 * launch's workgroups into a grid within the device's per-dimension limit. Pure arithmetic on the
 * view and the device limits; the op families' launch plans (statistics-plan.ts, backward-plan.ts,
 * elementwise-plan.ts) plan one launch per slab.
 *
 * Tensors larger than one storage binding (maxStorageBufferBindingSize: 128 MiB by default, often
 * more on request) are processed in slabs, each bound on its own; the buffer itself may be as large
 * as maxBufferSize. Binding offsets must be multiples of minStorageBufferOffsetAlignment (256 on
 * every device known), so:
 *
 * - elementwise kernels (apply, backward-apply) take flat ranges of units whose length is a
 *   multiple of the alignment: every slab starts aligned, and the kernel is told the global index
 *   of its first unit to find the channels;
 * - reduction kernels need whole rows of the [outer, C, inner] view, whose starts are rarely
 *   aligned: a slab is bound from the aligned address just below its first value, and the kernel
 *   skips the few values before it (`skip`).
 *
 * A reduction slab is a dense sub-view: whole outer rows when one row (C · inner values) fits in a
 * binding; else, within one outer row, a range of channels; else, within one channel run, a range
 * of the run. Each keeps the [outer', C', inner'] shape the kernels already understand, plus the
 * index of its first channel.
 */
export interface ReductionSlab {
  view: ChannelView;
  /** Global index of the slab's first channel. */
  channelBase: number;
  /** Global index of the slab's first value. */
  firstElement: number;
}

export interface ElementwiseSlab {
  /** Global index of the slab's first unit (value, or vec4). */
  firstUnit: number;
  units: number;
}

/** A storage binding of part of a buffer; `skip` counts the units bound before the slab's first. */
export interface SlabBinding {
  offset: number;
  size: number;
  skip: number;
}

/** One launch of a kernel over one slab (a tensor within one binding is one slab). */
export interface SlabLaunchPlan {
  params: Record<string, number>;
  grid: [number, number];
  /** The part of each tensor-sized buffer (x, y, dy, dx) this launch binds. */
  binding: SlabBinding;
}

/**
 * Bytes of a tensor of `size` elements of `elementBytes` (4 for float32, 2 for float16) as a buffer
 * must hold them: storage bindings are whole 4-byte words, so an odd count of float16 values takes
 * one more element's room (never read or written).
 */
export function tensorBytes(size: number, elementBytes = 4): number {
  return Math.ceil((size * elementBytes) / 4) * 4;
}

/** The kernels index tensors with u32; a tensor past 2^32 values would wrap. */
export const MAX_TENSOR_ELEMENTS = 2 ** 32 - 1;

/** Refuses, before any GPU work, a tensor the device cannot hold or the kernels cannot index. */
export function checkTensorFits(limits: Pick<GPUSupportedLimits, 'maxBufferSize'>, view: ChannelView, elementBytes = 4): void {
  const bytes = tensorBytes(view.size, elementBytes);
  const { maxBufferSize } = limits;
  if (bytes > maxBufferSize) {
    throw new BatchNormError('too-large', `a tensor of ${view.size} values (${bytes} bytes) exceeds this device's maxBufferSize of ${maxBufferSize} bytes`);
  }
  if (view.size > MAX_TENSOR_ELEMENTS) throw new BatchNormError('too-large', `a tensor of ${view.size} values exceeds the 2^32 − 1 the kernels can index`);
}

function subView(outer: number, channels: number, inner: number): ChannelView {
  return { outer, channels, inner, count: outer * inner, size: outer * channels * inner };
}

/**
 * Splits `view` into reduction slabs of at most `bindingBytes` bound bytes each (alignment
 * padding included), for elements of `elementBytes`. One slab, the whole view, when it fits.
 */
export function reductionSlabs(view: ChannelView, bindingBytes: number, alignment: number, elementBytes = 4): ReductionSlab[] {
  if (tensorBytes(view.size, elementBytes) <= bindingBytes) return [{ view, channelBase: 0, firstElement: 0 }];
  // Room for the skipped values before an unaligned start. (A float16 slab's size rounded up to a
  // word still fits: the skipped bytes are even and below the alignment, so at most alignment − 2.)
  const maxValues = Math.floor((bindingBytes - alignment) / elementBytes);
  const { outer, channels: C, inner } = view;
  const rowLength = C * inner;
  const slabs: ReductionSlab[] = [];
  if (rowLength <= maxValues) {
    const rowsPerSlab = Math.floor(maxValues / rowLength);
    for (let o = 0; o < outer; o += rowsPerSlab) {
      slabs.push({ view: subView(Math.min(rowsPerSlab, outer - o), C, inner), channelBase: 0, firstElement: o * rowLength });
    }
    return slabs;
  }
  if (inner === 1) {
    throw new BatchNormError('too-large', `one row of ${C} channels (${C * elementBytes} bytes) exceeds the largest storage binding in use (${bindingBytes} bytes)`);
  }
  if (inner <= maxValues) {
    const channelsPerSlab = Math.floor(maxValues / inner);
    for (let o = 0; o < outer; o++) {
      for (let c = 0; c < C; c += channelsPerSlab) {
        slabs.push({ view: subView(1, Math.min(channelsPerSlab, C - c), inner), channelBase: c, firstElement: (o * C + c) * inner });
      }
    }
    return slabs;
  }
  // Pieces of a multiple of 4 values keep the vec4 kernels usable when inner % 4 == 0.
  const piece = Math.floor(maxValues / 4) * 4;
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < C; c++) {
      for (let i = 0; i < inner; i += piece) {
        slabs.push({ view: subView(1, 1, Math.min(piece, inner - i)), channelBase: c, firstElement: (o * C + c) * inner + i });
      }
    }
  }
  return slabs;
}

/**
 * The binding of a reduction slab's values of `elementBytes` each, read in units of `unitBytes`
 * (one element, or four for vec4 kernels). Its size is whole 4-byte words: a float16 slab ending
 * inside a word binds that word (within the buffer, whose size is rounded the same way).
 */
export function reductionBinding(slab: ReductionSlab, unitBytes: number, alignment: number, elementBytes = 4): SlabBinding {
  const start = slab.firstElement * elementBytes;
  const offset = Math.floor(start / alignment) * alignment;
  return { offset, size: tensorBytes(start - offset + slab.view.size * elementBytes, 1), skip: (start - offset) / unitBytes };
}

/** The part of a tensor-sized buffer (x, y, dy, dx) that one slab's launch binds. */
export function slabOf(buffer: GPUBuffer, binding: SlabBinding): GPUBufferBinding {
  return { buffer, offset: binding.offset, size: binding.size };
}

/** Flat ranges of `units` units of `unitBytes` bytes, each at most `bindingBytes` (a multiple of the alignment). */
export function elementwiseSlabs(units: number, unitBytes: number, bindingBytes: number): ElementwiseSlab[] {
  const perSlab = Math.floor(bindingBytes / unitBytes);
  const slabs: ElementwiseSlab[] = [];
  for (let first = 0; first < units; first += perSlab) slabs.push({ firstUnit: first, units: Math.min(perSlab, units - first) });
  return slabs;
}

/** Largest binding the kernels use: the device's, or a smaller cap (tests), rounded down to the alignment. */
export function bindingBytesOf(limits: Pick<GPUSupportedLimits, 'maxStorageBufferBindingSize' | 'minStorageBufferOffsetAlignment'>, cap = Infinity): number {
  const alignment = limits.minStorageBufferOffsetAlignment;
  return Math.floor(Math.min(cap, limits.maxStorageBufferBindingSize) / alignment) * alignment;
}

/**
 * Spreads `workgroups` over a 2-D grid when it exceeds maxComputeWorkgroupsPerDimension. Kernels
 * rebuild the linear index as x + y · numWorkgroups.x and skip indices past the real count.
 */
export function foldWorkgroups(workgroups: number, maxPerDimension: number): [number, number] {
  if (workgroups <= maxPerDimension) return [Math.max(1, workgroups), 1];
  const y = Math.ceil(workgroups / maxPerDimension);
  if (y > maxPerDimension) {
    throw new RangeError(`${workgroups} workgroups exceed a ${maxPerDimension}² grid`);
  }
  return [Math.ceil(workgroups / y), y];
}
