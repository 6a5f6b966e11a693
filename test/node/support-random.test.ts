import { describe, expect, it } from 'vitest';
import { caseSeed, channelNormals, createRng, normals, uniforms } from '../support/random';

describe('seeded random numbers', () => {
  it('replays the same stream from the same seed and differs between seeds', () => {
    const a = normals(createRng(42), 100);
    expect(normals(createRng(42), 100)).toEqual(a);
    expect(normals(createRng(43), 100)).not.toEqual(a);
    expect(caseSeed(1, 'a')).not.toBe(caseSeed(1, 'b'));
    expect(caseSeed(1, 'a')).not.toBe(caseSeed(2, 'a'));
  });

  it('draws uniforms in [low, high) and normals with the requested moments', () => {
    const u = uniforms(createRng(7), 10000, -2, 3);
    expect(Math.min(...u)).toBeGreaterThanOrEqual(-2);
    expect(Math.max(...u)).toBeLessThan(3);
    const n = normals(createRng(7), 20000, 5, 2);
    const mean = n.reduce((s, v) => s + v, 0) / n.length;
    const std = Math.sqrt(n.reduce((s, v) => s + (v - mean) ** 2, 0) / n.length);
    expect(Math.abs(mean - 5)).toBeLessThan(0.05); // 4 standard errors of 2/√20000
    expect(Math.abs(std - 2)).toBeLessThan(0.05);
  });

  it('gives each channel its own mean in every layout', () => {
    const nhwc = channelNormals(createRng(3), [2, 3, 3, 2], 'NHWC', [-100, 100], [0, 0]);
    expect(Array.from(nhwc.subarray(0, 4))).toEqual([-100, 100, -100, 100]);
    const nchw = channelNormals(createRng(3), [2, 2, 3, 3], 'NCHW', [-100, 100], [0, 0]);
    expect(Array.from(nchw.subarray(0, 18))).toEqual([...Array(9).fill(-100), ...Array(9).fill(100)]);
  });
});
