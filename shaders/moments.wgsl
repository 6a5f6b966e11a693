// #import finite
// Moments of a set of values as one vec4f, m = (count, mean − pivot, M2, pivot): the mean is kept as
// a pivot (a float32 near the mean) plus a small remainder, so for data like 1e4 ± 1 no quantity of
// the size of the mean is rounded before the statistics are written (a float32 mean alone has only
// ε·1e4 ≈ 6e-4 of absolute precision). M2 = Σ (x − mean)². Put in front of the statistics kernels
// and finalize.wgsl (shader-sources.ts), which use nothing else to build or merge moments.
//
// Why blocks and merges, not per-thread sums Σ(x − p), Σ(x − p)²: those lose digits in proportion to
// ((mean − p) / σ)² times the length of the chain, so the error depended on which value a thread
// happened to take as its pivot. Here a thread reads its values in blocks of four (four independent
// loads in flight), takes each block's mean and M2 in registers by two passes (its M2 is a sum of
// squares of deviations from its own mean: no cancellation), and merges the block into its running
// moments with Chan's formula, about the thread's pivot (a value of the channel), so the merges
// round quantities of the order of the data's spread, however long the thread runs, and no square
// of a pivot distance accumulates along the chain; docs/numerics.md states the resulting error bound.
//
// M2 = −1 flags a set that contained a NaN or ±Inf (see momentsOrFlag); the flag spreads through
// merges.

// The two-pass moments of up to four values of one channel, taken about `pivot`: lanes ≥ `valid`
// are ignored (valid ≥ 1). A NaN or ±Inf makes the mean or M2 non-finite.
fn blockMoments(values: vec4f, valid: u32, pivot: f32) -> vec4f {
  let used = vec4u(0u, 1u, 2u, 3u) < vec4u(valid);
  let d = select(vec4f(0.0), values - pivot, used);
  let count = f32(valid);
  let mean = ((d.x + d.y) + (d.z + d.w)) / count;
  let e = select(vec4f(0.0), d - mean, used);
  return vec4f(count, mean, (e.x * e.x + e.y * e.y) + (e.z * e.z + e.w * e.w), pivot);
}

// Chan et al.: the moments of the union of two disjoint sets, about a's pivot. Empty sets (count 0:
// partials a slab did not write read as zeros) are skipped, so nothing divides by zero. The pivot
// stays a value of the channel, so the means about it are at most R·σ (R = max|x − μ|/σ) and no
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

// Merges a block of up to four values into running moments (the block is taken about their pivot).
// valid == 0 leaves them as they are.
fn mergeBlock(running: vec4f, values: vec4f, valid: u32) -> vec4f {
  if (valid == 0u) {
    return running;
  }
  return chanMerge(running, blockMoments(values, valid, running.w));
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
