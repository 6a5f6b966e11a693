// #import finite
// Moments of a set of values as one vec4f, m = (count, mean − pivot, M2, pivot): the mean is kept as
// a pivot (a float32 near the mean) plus a small remainder, so for data like 1e4 ± 1 no quantity of
// the size of the mean is rounded before the statistics are written (a float32 mean alone has only
// ε·1e4 ≈ 6e-4 of absolute precision). M2 = Σ (x − mean)². Put in front of the statistics kernels
// and finalize.wgsl (shader-sources.ts), which use nothing else to build or merge moments.
//
// Why blocks and merges, not per-thread sums Σ(x − p), Σ(x − p)²: those lose digits in proportion to
// ((mean − p) / σ)² times the length of the chain, so the error depended on which value a thread
// happened to take as its pivot. Here a thread reads its values in blocks, takes each block's mean
// and M2 in registers by two passes (its M2 is a sum of squares of deviations from its own mean: no
// cancellation), and merges the block into its running moments with Chan's formula, about the
// thread's pivot (a value of the channel), so every merge rounds only quantities of the order of
// the data's spread (at most 2R·σ, R = max|x − μ|/σ), whichever value the thread read first; the
// error grows with the chain's length in proportion to R(1 + R) at worst (data sorted along the
// channel). docs/numerics.md states the resulting error bound.
//
// M2 = −1 flags a set that contained a NaN or ±Inf (see momentsOrFlag); the flag spreads through
// merges.

// Blocks. A thread reads 16 values of a channel at a time (16 independent loads in flight), as four
// vec4s, and takes their moments by two passes: the mean of d = x − pivot, then the sum of squares of
// d − mean. A full block's mean is its sum times 1/16, exact (a power of two), so a thread divides
// once per merge (the merge's weight) and once in its last, partial block; and the merges have no
// branch (the thread's own blocks are never empty, nor flagged: momentsOrFlag looks at the end).
// 'Rows' kernels with four channels per vec4 take eight rows per block instead, one channel per lane.

// (mean of d, M2) of a full block of 16 values of one channel.
fn channelBlock(v0: vec4f, v1: vec4f, v2: vec4f, v3: vec4f, pivot: f32) -> vec2f {
  let d0 = v0 - pivot;
  let d1 = v1 - pivot;
  let d2 = v2 - pivot;
  let d3 = v3 - pivot;
  let s = (d0 + d1) + (d2 + d3);
  let mean = ((s.x + s.y) + (s.z + s.w)) * (1.0 / 16.0);
  let e0 = d0 - mean;
  let e1 = d1 - mean;
  let e2 = d2 - mean;
  let e3 = d3 - mean;
  let q = (e0 * e0 + e1 * e1) + (e2 * e2 + e3 * e3);
  return vec2f(mean, (q.x + q.y) + (q.z + q.w));
}

// The same for a thread's last, partial block: value k (lane k % 4 of v[k / 4]) counts when
// k < valid (1 ≤ valid ≤ 16); the others are ignored.
fn channelTail(v0: vec4f, v1: vec4f, v2: vec4f, v3: vec4f, valid: u32, pivot: f32) -> vec2f {
  let k = vec4u(0u, 1u, 2u, 3u);
  let n = vec4u(valid);
  let u0 = k < n;
  let u1 = k + 4u < n;
  let u2 = k + 8u < n;
  let u3 = k + 12u < n;
  let zero = vec4f(0.0);
  let d0 = select(zero, v0 - pivot, u0);
  let d1 = select(zero, v1 - pivot, u1);
  let d2 = select(zero, v2 - pivot, u2);
  let d3 = select(zero, v3 - pivot, u3);
  let s = (d0 + d1) + (d2 + d3);
  let mean = ((s.x + s.y) + (s.z + s.w)) / f32(valid);
  let e0 = select(zero, d0 - mean, u0);
  let e1 = select(zero, d1 - mean, u1);
  let e2 = select(zero, d2 - mean, u2);
  let e3 = select(zero, d3 - mean, u3);
  let q = (e0 * e0 + e1 * e1) + (e2 * e2 + e3 * e3);
  return vec2f(mean, (q.x + q.y) + (q.z + q.w));
}

// Merges a block of `count` values with moments `block` (channelBlock's) into a thread's running
// moments m = (count, mean − pivot, M2, pivot), about the same pivot: Chan's formula without
// branches. An empty m (count 0) takes the block's moments exactly (weight 1, between-term × 0).
fn mergeBlock(m: vec4f, count: f32, block: vec2f) -> vec4f {
  let total = m.x + count;
  let delta = block.x - m.y;
  let shift = delta * (count / total);
  return vec4f(total, m.y + shift, (m.z + block.y) + delta * shift * m.x, m.w);
}

// Four channels read together, one per lane of a vec4 row ('Rows' kernels): a block is eight rows,
// eight values per channel, and the running moments about the thread's first row share the count.
struct RowsMoments {
  count: f32,
  mean: vec4f, // mean − pivot, per channel
  m2: vec4f,
}

struct RowsBlock {
  mean: vec4f,
  m2: vec4f,
}

// Eight full rows: the mean by × 1/8 (exact).
fn rowsBlock(r: array<vec4f, 8>, pivot: vec4f) -> RowsBlock {
  let d0 = r[0] - pivot;
  let d1 = r[1] - pivot;
  let d2 = r[2] - pivot;
  let d3 = r[3] - pivot;
  let d4 = r[4] - pivot;
  let d5 = r[5] - pivot;
  let d6 = r[6] - pivot;
  let d7 = r[7] - pivot;
  let mean = (((d0 + d1) + (d2 + d3)) + ((d4 + d5) + (d6 + d7))) * 0.125;
  let e0 = d0 - mean;
  let e1 = d1 - mean;
  let e2 = d2 - mean;
  let e3 = d3 - mean;
  let e4 = d4 - mean;
  let e5 = d5 - mean;
  let e6 = d6 - mean;
  let e7 = d7 - mean;
  let m2 = ((e0 * e0 + e1 * e1) + (e2 * e2 + e3 * e3)) + ((e4 * e4 + e5 * e5) + (e6 * e6 + e7 * e7));
  return RowsBlock(mean, m2);
}

// A thread's last block: rows ≥ valid (1 ≤ valid ≤ 8) are ignored.
fn rowsTail(r: array<vec4f, 8>, valid: u32, pivot: vec4f) -> RowsBlock {
  let zero = vec4f(0.0);
  let d0 = r[0] - pivot;
  let d1 = select(zero, r[1] - pivot, valid > 1u);
  let d2 = select(zero, r[2] - pivot, valid > 2u);
  let d3 = select(zero, r[3] - pivot, valid > 3u);
  let d4 = select(zero, r[4] - pivot, valid > 4u);
  let d5 = select(zero, r[5] - pivot, valid > 5u);
  let d6 = select(zero, r[6] - pivot, valid > 6u);
  let d7 = select(zero, r[7] - pivot, valid > 7u);
  let mean = (((d0 + d1) + (d2 + d3)) + ((d4 + d5) + (d6 + d7))) / f32(valid);
  let e0 = d0 - mean;
  let e1 = select(zero, d1 - mean, valid > 1u);
  let e2 = select(zero, d2 - mean, valid > 2u);
  let e3 = select(zero, d3 - mean, valid > 3u);
  let e4 = select(zero, d4 - mean, valid > 4u);
  let e5 = select(zero, d5 - mean, valid > 5u);
  let e6 = select(zero, d6 - mean, valid > 6u);
  let e7 = select(zero, d7 - mean, valid > 7u);
  let m2 = ((e0 * e0 + e1 * e1) + (e2 * e2 + e3 * e3)) + ((e4 * e4 + e5 * e5) + (e6 * e6 + e7 * e7));
  return RowsBlock(mean, m2);
}

// mergeBlock for four channels at once.
fn mergeRows(m: RowsMoments, count: f32, block: RowsBlock) -> RowsMoments {
  let total = m.count + count;
  let delta = block.mean - m.mean;
  let shift = delta * (count / total);
  return RowsMoments(total, m.mean + shift, (m.m2 + block.m2) + delta * shift * m.count);
}

// Chan et al.: the moments of the union of two disjoint sets, about a's pivot (finalize.wgsl's merges
// of partials). Empty sets (count 0: partials a slab did not write read as zeros) are skipped, so
// nothing divides by zero, and a flagged set (M2 = −1) flags the union. The pivot
// stays a value of the channel, so the means about it are at most 2R·σ (R = max|x − μ|/σ) and no
// quantity of the size of the mean is rounded. (Moving the pivot to the merged mean and keeping the
// remainder m − ((p + m) − p) apart would need the compiler not to reassociate, which WGSL does not
// promise: Mesa's compiler folds it to 0.)
fn chanMerge(a: vec4f, b: vec4f) -> vec4f {
  if (b.x == 0.0) {
    return a;
  }
  if (a.x == 0.0) {
    return b;
  }
  let count = a.x + b.x;
  if (a.z < 0.0 || b.z < 0.0) {
    return vec4f(count, 0.0, -1.0, a.w);
  }
  let delta = (b.w - a.w) + (b.y - a.y);
  let shift = delta * (b.x / count);
  return vec4f(count, a.y + shift, (a.z + b.z) + delta * shift * a.x, a.w);
}

// A thread's or workgroup's moments as a partial: flagged (M2 = −1) when a NaN or ±Inf was read or
// the moments overflowed float32. Nothing brings a mean or M2 back from NaN or ±Inf, so looking at
// the bits once at the end is enough; a flag carries the news because max(NaN, 0) may return 0.
fn momentsOrFlag(m: vec4f) -> vec4f {
  if (!(isFinite(m.y) && isFinite(m.z) && isFinite(m.w))) {
    return vec4f(m.x, 0.0, -1.0, 0.0);
  }
  return m;
}
