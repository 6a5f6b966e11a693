import { describe, expect, it } from 'vitest';
import { hashNumbers, NumericKeyMap } from '../../src/gpu/numeric-keys';
import { createRng } from '../support/random';

describe('NumericKeyMap (uniform and program keys)', () => {
  it('finds every key again and tells apart keys that differ in one number, in length or in order', () => {
    const map = new NumericKeyMap<string>();
    const keys = [[1, 2, 3], [1, 2, 4], [1, 2], [1, 2, 3, 0], [3, 2, 1], [0.1, 1e-5, 0.99], [0.1, 1e-5, 0.9900000000000001], [-1, 0], [0]];
    keys.forEach((key, i) => map.set(key, `k${i}`));
    keys.forEach((key, i) => expect(map.get(key)).toBe(`k${i}`));
    expect(map.get(Uint32Array.from([1, 2, 3]))).toBe('k0');
    expect(map.get([2, 1, 3])).toBeUndefined();
    expect(map.get([])).toBeUndefined();
    expect(map.size).toBe(keys.length);
  });

  it('keeps 5 000 random keys apart', () => {
    const rng = createRng(7);
    const map = new NumericKeyMap<number>();
    const keys = Array.from({ length: 5_000 }, () => Array.from({ length: 1 + Math.floor(rng.uniform() * 6) }, () => Math.floor(rng.uniform() * 8)));
    const expected = new Map<string, number>();
    keys.forEach((key, i) => {
      map.set(key, i);
      expected.set(key.join(','), i);
    });
    expect(map.size).toBe(expected.size);
    expect(keys.filter((key) => map.get(key) !== expected.get(key.join(',')))).toEqual([]);
  });

  it('replaces the value of a key set again, deletes, and forgets the oldest past its capacity', () => {
    const map = new NumericKeyMap<string>(3);
    map.set([1], 'a');
    map.set([2], 'b');
    map.set([1], 'a2');
    expect(map.get([1])).toBe('a2');
    expect(map.size).toBe(2);
    map.set([3], 'c');
    map.set([4], 'd');
    // [2] is now the oldest entry ([1] was set again after it).
    expect(map.get([2])).toBeUndefined();
    expect([...map.values()]).toEqual(['a2', 'c', 'd']);
    map.delete([3]);
    expect(map.get([3])).toBeUndefined();
    expect(map.size).toBe(2);
    map.clear();
    expect(map.size).toBe(0);
    expect(map.get([1])).toBeUndefined();
  });
});

describe('hashNumbers', () => {
  it('spreads small integer keys (few share a hash) and depends on every position', () => {
    const keys: number[][] = [];
    for (let a = 0; a < 32; a++) for (let b = 0; b < 32; b++) for (let c = 0; c < 8; c++) keys.push([a, b, c]);
    expect(new Set(keys.map(hashNumbers)).size).toBeGreaterThan(keys.length * 0.99);
    expect(hashNumbers([1, 2])).not.toBe(hashNumbers([2, 1]));
    expect(hashNumbers([0.1])).not.toBe(hashNumbers([0.1 + 2 ** -55]));
  });
});
