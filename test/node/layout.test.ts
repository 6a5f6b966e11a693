import { describe, expect, it } from 'vitest';
import { channelAxis, channelView, isLayout, layouts } from '../../src/layout';
import type { Layout } from '../../src/types';

// The layout table (README, docs/api.md), with odd sizes so a swapped axis cannot give the same numbers.
const cases: { layout: Layout; shape: number[]; axis: number; outer: number; inner: number }[] = [
  { layout: 'NC', shape: [7, 3], axis: 1, outer: 7, inner: 1 },
  { layout: 'NCL', shape: [2, 3, 5], axis: 1, outer: 2, inner: 5 },
  { layout: 'NLC', shape: [2, 5, 3], axis: 2, outer: 10, inner: 1 },
  { layout: 'NCHW', shape: [2, 3, 5, 7], axis: 1, outer: 2, inner: 35 },
  { layout: 'NHWC', shape: [2, 5, 7, 3], axis: 3, outer: 70, inner: 1 },
  { layout: 'NCDHW', shape: [2, 3, 5, 7, 11], axis: 1, outer: 2, inner: 385 },
  { layout: 'NDHWC', shape: [2, 5, 7, 11, 3], axis: 4, outer: 770, inner: 1 },
];

describe('channel views', () => {
  it('covers every layout', () => {
    expect(cases.map((c) => c.layout).sort()).toEqual([...layouts].sort());
  });

  for (const { layout, shape, axis, outer, inner } of cases) {
    it(`${layout} ${JSON.stringify(shape)} → [${outer}, 3, ${inner}]`, () => {
      expect(channelAxis(layout)).toBe(axis);
      const count = outer * inner;
      expect(channelView(shape, layout)).toEqual({ outer, channels: 3, inner, count, size: count * 3 });
    });
  }

  it('uses axis 1 when no layout is given, for any rank', () => {
    expect(channelView([4, 3])).toEqual({ outer: 4, channels: 3, inner: 1, count: 4, size: 12 });
    expect(channelView([2, 3, 5, 7])).toEqual({ outer: 2, channels: 3, inner: 35, count: 70, size: 210 });
    expect(channelView([2, 3, 2, 2, 2, 2])).toEqual({ outer: 2, channels: 3, inner: 16, count: 32, size: 96 });
  });

  it('recognizes layout names and nothing else', () => {
    for (const layout of layouts) expect(isLayout(layout)).toBe(true);
    for (const other of ['nchw', 'CHW', '', 'toString', 'constructor', 3, undefined]) {
      expect(isLayout(other)).toBe(false);
    }
  });
});
