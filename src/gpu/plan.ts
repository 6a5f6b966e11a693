import type { ChannelView } from '../layout';
import { foldWorkgroups } from './grid';
import type { KernelTuning } from './tuning';

/**
 * Launch plans: which entry point of each kernel serves a view, its uniform values and its grid.
 * Pure functions of the view, the tuning and the device limit, so they are unit-tested in Node.
 */
export interface KernelLaunch {
  entryPoint: string;
  params: Record<string, number>;
  grid: [number, number];
}

export interface StatsPlan {
  kernel: 'statsRows' | 'statsRuns';
  launch: KernelLaunch;
  /** K: partial statistics per channel, merged by finalize. */
  chunks: number;
}

const ceilDiv = (a: number, b: number) => Math.ceil(a / b);

export function planStats(view: ChannelView, tuning: KernelTuning, maxPerDimension: number): StatsPlan {
  const { outer, channels, inner } = view;
  const wg = tuning.workgroupSize;
  if (inner === 1) {
    const vec4 = channels % 4 === 0;
    const groups = vec4 ? channels / 4 : channels;
    // Each thread reduces at least statsMinValuesPerThread rows of its channel group.
    const maxLanes = Math.max(1, Math.floor(outer / tuning.statsMinValuesPerThread));
    const rowLanes = Math.max(1, Math.min(outer, maxLanes, ceilDiv(tuning.statsTargetThreads, groups)));
    const threads = groups * rowLanes;
    return {
      kernel: 'statsRows',
      chunks: rowLanes,
      launch: {
        entryPoint: vec4 ? 'statsRowsVec4' : 'statsRowsScalar',
        params: { rows: outer, groups, rowLanes, threads },
        grid: foldWorkgroups(ceilDiv(threads, wg), maxPerDimension),
      },
    };
  }
  const vec4 = inner % 4 === 0;
  const innerUnits = vec4 ? inner / 4 : inner;
  const valuesPerChannel = outer * innerUnits;
  const minChunk = wg * Math.max(1, ceilDiv(tuning.statsMinValuesPerThread, vec4 ? 4 : 1));
  const wantedChunks = Math.max(1, ceilDiv(tuning.statsTargetThreads, wg * channels));
  const chunkLength = Math.max(minChunk, ceilDiv(valuesPerChannel, wantedChunks));
  const chunks = ceilDiv(valuesPerChannel, chunkLength);
  const workgroupCount = channels * chunks;
  return {
    kernel: 'statsRuns',
    chunks,
    launch: {
      entryPoint: vec4 ? 'statsRunsVec4' : 'statsRunsScalar',
      params: {
        channels,
        inner: innerUnits,
        valuesPerChannel,
        chunkLength,
        chunks,
        workgroupCount,
        stepOuter: Math.floor(wg / innerUnits),
        stepInner: wg % innerUnits,
      },
      grid: foldWorkgroups(workgroupCount, maxPerDimension),
    },
  };
}

/**
 * Few partials per channel are folded by one thread each (no barriers); many by a workgroup tree.
 * The threshold is where a serial chain stops being cheaper than a tree step, roughly.
 */
export const SERIAL_FINALIZE_MAX_CHUNKS = 32;

export function planFinalize(view: ChannelView, chunks: number, tuning: KernelTuning, maxPerDimension: number): Omit<KernelLaunch, 'params'> {
  if (chunks <= SERIAL_FINALIZE_MAX_CHUNKS) {
    return { entryPoint: 'finalizeSerial', grid: foldWorkgroups(ceilDiv(view.channels, tuning.workgroupSize), maxPerDimension) };
  }
  return { entryPoint: 'finalizeTree', grid: foldWorkgroups(view.channels, maxPerDimension) };
}

export function planInferenceFold(view: ChannelView, tuning: KernelTuning, maxPerDimension: number): Omit<KernelLaunch, 'params'> {
  return { entryPoint: 'inferenceFold', grid: foldWorkgroups(ceilDiv(view.channels, tuning.workgroupSize), maxPerDimension) };
}

/** Which apply entry point serves a view, and the [outer, C', inner'] it sees in units. */
export function planApply(view: ChannelView, tuning: KernelTuning, maxPerDimension: number): KernelLaunch {
  const { channels: C, inner, size } = view;
  const wg = tuning.workgroupSize;
  let entryPoint: string;
  let unitChannels = C;
  let unitInner = inner;
  let unitWidth = 1;
  let statsUnitsPerChannelBlock = C;
  if (inner % 4 === 0) {
    entryPoint = 'applyVec4Run';
    unitInner = inner / 4;
    unitWidth = 4;
  } else if (inner === 1 && C % 4 === 0) {
    entryPoint = 'applyVec4Channels';
    unitChannels = C / 4;
    unitWidth = 4;
    statsUnitsPerChannelBlock = C / 4;
  } else {
    entryPoint = 'applyScalar';
  }
  const units = size / unitWidth;
  const workgroupCount = ceilDiv(units, wg * tuning.applyUnitsPerThread);
  return {
    entryPoint,
    params: {
      units,
      channels: unitChannels,
      inner: unitInner,
      scaleOffset: 3 * statsUnitsPerChannelBlock,
      shiftOffset: 4 * statsUnitsPerChannelBlock,
      stepInner: wg % unitInner,
      stepChannel: Math.floor(wg / unitInner) % unitChannels,
    },
    grid: foldWorkgroups(workgroupCount, maxPerDimension),
  };
}
