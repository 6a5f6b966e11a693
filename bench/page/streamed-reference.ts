/**
 * The check of cases too large for host arrays (above the cpu and TF.js caps, up to 512 MB per
 * tensor): instead of the library's CPU path, the inputs are regenerated from their deterministic
 * sequence (case-data.ts) in two streaming passes, with no tensor-sized array on the host.
 *
 * 1. `streamStatistics`: per-channel float64 sums of x (and dy), shifted by the known centre of the
 *    data so that nothing cancels, give mean, biased variance and invStd (and for backward
 *    dbeta = Σdy, dgamma = Σdy·x̂), independently of anything the GPU computed.
 * 2. `StreamedCheck`: the GPU's main output (y or dx) is read back in chunks, in memory order, and
 *    every element is compared with its float64 value from those statistics (the formulas of the library's CPU path).
 *
 * The per-channel outputs (mean and variance, or dgamma and dbeta) are compared whole with the
 * statistics of step 1. A kernel that skips or misplaces any part of the tensor, uses the wrong
 * channel, or gets the statistics wrong shows up as an error of order 1.
 */
import { baseOp } from '../lib/types';
import type { CaseData, Stream } from './case-data';
import { generator } from './data';

export interface StreamedStatistics {
  /** Batch statistics of x per channel, float64. */
  mean: Float64Array;
  variance: Float64Array;
  invStd: Float64Array;
  /** Backward: Σdy and Σdy·x̂ per channel. */
  dbeta: Float64Array | undefined;
  dgamma: Float64Array | undefined;
}

/** Draws of a stream in order, as the float32 values the inputs hold. */
function reader(seed: number, stream: Stream, offset = 0): () => number {
  const random = generator(seed, stream.start + offset);
  const { center, spread } = stream;
  return () => Math.fround(center + spread * (2 * random() - 1));
}

/**
 * Walks the [outer, C, inner] view in memory order: `visit(c, count)` is called for each run of
 * `count` consecutive elements of channel c, from element `first` on, for `length` elements.
 */
function runs(data: CaseData, first: number, length: number, visit: (channel: number, count: number) => void): void {
  const { channels: C, inner } = data.view;
  let c = Math.floor(first / inner) % C;
  let j = first % inner;
  let left = length;
  while (left > 0) {
    const count = Math.min(inner - j, left);
    visit(c, count);
    left -= count;
    j = 0;
    c = c + 1 === C ? 0 : c + 1;
  }
}

/** Pass 1: per-channel float64 statistics of x (and the backward sums with dy). */
export function streamStatistics(data: CaseData, eps: number): StreamedStatistics {
  const C = data.view.channels;
  const seed = data.spec.seed;
  const { x: xs, dy: dys } = data.streams;
  const nextX = reader(seed, xs);
  const nextDy = dys ? reader(seed, dys) : undefined;
  const shift = xs.center;
  const s1 = new Float64Array(C); // Σ(x − shift)
  const s2 = new Float64Array(C); // Σ(x − shift)²
  const sDy = new Float64Array(C); // Σdy
  const sDyD = new Float64Array(C); // Σdy·(x − shift)
  runs(data, 0, data.view.size, (c, count) => {
    let a = 0;
    let b = 0;
    if (nextDy) {
      let e = 0;
      let f = 0;
      for (let i = 0; i < count; i++) {
        const d = nextX() - shift;
        const g = nextDy();
        a += d;
        b += d * d;
        e += g;
        f += g * d;
      }
      sDy[c] += e;
      sDyD[c] += f;
    } else {
      for (let i = 0; i < count; i++) {
        const d = nextX() - shift;
        a += d;
        b += d * d;
      }
    }
    s1[c] += a;
    s2[c] += b;
  });
  const M = data.view.size / C;
  const mean = new Float64Array(C);
  const variance = new Float64Array(C);
  const invStd = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    const m = s1[c] / M;
    mean[c] = shift + m;
    variance[c] = Math.max(s2[c] / M - m * m, 0);
    invStd[c] = 1 / Math.sqrt(variance[c] + eps);
  }
  if (!nextDy) return { mean, variance, invStd, dbeta: undefined, dgamma: undefined };
  const dgamma = new Float64Array(C);
  for (let c = 0; c < C; c++) dgamma[c] = (sDyD[c] - (mean[c] - shift) * sDy[c]) * invStd[c];
  return { mean, variance, invStd, dbeta: sDy, dgamma };
}

/**
 * Pass 2: the main output, fed in chunks in memory order, against its float64 value.
 * forward-train: y = x·scale + shift with scale = gamma·invStd, shift = beta − mean·scale;
 * inference: the same with the running statistics; backward (train mode):
 * dx = gamma·invStd·(dy − dbeta/M − x̂·dgamma/M).
 */
export class StreamedCheck {
  private done = 0;
  private worst = 0;
  private readonly nextX: () => number;
  private readonly nextDy: (() => number) | undefined;
  private readonly a: Float64Array;
  private readonly b: Float64Array;
  private readonly mean: Float64Array;
  private readonly invStd: Float64Array;
  private readonly g: Float64Array;
  private readonly nextZ: (() => number) | undefined;

  constructor(
    private readonly data: CaseData,
    statistics: StreamedStatistics,
    eps: number,
  ) {
    const C = data.view.channels;
    const M = data.view.size / C;
    this.nextX = reader(data.spec.seed, data.streams.x);
    this.nextDy = data.streams.dy ? reader(data.spec.seed, data.streams.dy) : undefined;
    // The forward's residual z, added to y (the backward's dx does not depend on it).
    this.nextZ = data.streams.z && !data.streams.dy ? reader(data.spec.seed, data.streams.z) : undefined;
    this.a = new Float64Array(C);
    this.b = new Float64Array(C);
    this.mean = statistics.mean;
    this.invStd = statistics.invStd;
    this.g = new Float64Array(C);
    for (let c = 0; c < C; c++) {
      const { gamma, beta, runningMean, runningVar } = data;
      if (baseOp(data.spec.op) === 'forward-train') {
        this.a[c] = gamma[c] * statistics.invStd[c];
        this.b[c] = beta[c] - statistics.mean[c] * this.a[c];
      } else if (data.spec.op === 'inference') {
        this.a[c] = gamma[c] / Math.sqrt(runningVar[c] + eps);
        this.b[c] = beta[c] - runningMean[c] * this.a[c];
      } else {
        this.a[c] = gamma[c] * statistics.invStd[c];
        this.b[c] = (statistics.dbeta as Float64Array)[c] / M;
        this.g[c] = (statistics.dgamma as Float64Array)[c] / M;
      }
    }
  }

  /** Compares the next `actual.length` elements of the main output. */
  feed(actual: Float32Array): void {
    const { a, b, g, mean, invStd, nextX, nextDy, nextZ } = this;
    let k = 0;
    let worst = this.worst;
    runs(this.data, this.done, actual.length, (c, count) => {
      const ac = a[c];
      const bc = b[c];
      for (let i = 0; i < count; i++, k++) {
        let expected: number;
        if (nextDy) {
          const xHat = (nextX() - mean[c]) * invStd[c];
          expected = ac * (nextDy() - bc - xHat * g[c]);
        } else {
          expected = nextX() * ac + bc + (nextZ ? nextZ() : 0);
        }
        const d = Math.abs(actual[k] - expected);
        // NaN must show as a failure, not vanish in a comparison.
        if (!(d <= worst)) worst = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
      }
    });
    this.worst = worst;
    this.done += actual.length;
  }

  /** Largest |actual − expected| so far; infinite when fewer elements than the tensor's were fed. */
  get maxAbsErr(): number {
    return this.done === this.data.view.size ? this.worst : Number.POSITIVE_INFINITY;
  }
}
