// Per-channel partial statistics when each channel is stored as runs of `inner` contiguous values
// (inner > 1: NCL, NCHW, NCDHW), reading x exactly once.
//
// Workgroup w reduces chunk k = w % K of channel c = w / K: the values m ∈ [k·L, (k+1)·L) of the
// channel, m = o · inner + i ↦ address (o · C + c) · inner + i. Threads stride through the chunk by
// WORKGROUP_SIZE, so neighbouring threads read neighbouring addresses; (o, i) advance by a
// precomputed step with one carry instead of a division per value.
//
// All threads of a workgroup shift by the same pivot (the chunk's first value, a sample of the
// channel), so their shifted sums Σd, Σd² simply add up across the workgroup (workgroupSum: a tree in
// workgroup memory, or subgroup operations, from the helper file shader-sources.ts puts in front of
// this one); the result is turned into (count, shifted mean, M2, pivot) once per workgroup and merged
// across chunks by `finalize.wgsl` (see stats-rows.wgsl for why the pivot is kept apart).
// The vec4 entry point is used when inner % 4 == 0: the four lanes then belong to one channel.
// A NaN or an infinity makes the shifted sums non-finite for good, so the workgroup's totals flag
// it, with M2 = −1 (see stats-rows.wgsl).

// Params, the chunks and the segments of the 'Runs' reductions: runs-walk.wgsl, put in front of
// this file (shader-sources.ts).

override WORKGROUP_SIZE: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> x4: array<vec4f>;
// partials[(chunkBase + k) · C + c] = (count, shifted mean, M2, pivot), as stats-rows.wgsl writes them
@group(0) @binding(2) var<storage, read_write> partials: array<vec4f>;

fn isFinite(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u;
}

// The partial (count, shifted mean, M2, pivot) of shifted sums; M2 = −1 flags a NaN or ±Inf.
fn shiftedPartial(count: f32, pivot: f32, sum: f32, sumSquares: f32) -> vec4f {
  if (!(isFinite(sum) && isFinite(sumSquares))) {
    return vec4f(count, 0.0, -1.0, pivot);
  }
  let shiftedMean = sum / count;
  return vec4f(count, shiftedMean, max(sumSquares - sum * shiftedMean, 0.0), pivot);
}

// Adds up the workgroup's shifted sums and stores the chunk's partial; every thread of the workgroup
// must call it, in uniform control flow (workgroupSum has barriers, and subgroup operations in its
// subgroups version).
fn reduceAndStore(local: u32, chunk: Chunk, pivot: f32, sum: f32, sumSquares: f32, valuesPerUnit: u32) {
  let total = workgroupSum(local, vec2f(sum, sumSquares));
  if (local == 0u) {
    partials[partialIndex(chunk.channel, chunk.chunk)] = shiftedPartial(f32((chunk.end - chunk.begin) * valuesPerUnit), pivot, total.x, total.y);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn statsRunsScalar(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  // Whole workgroups leave together, so workgroupSum below stays in uniform control flow.
  if (workgroup.x + workgroup.y * workgroups.x >= params.workgroupCount) {
    return;
  }
  let chunk = chunkOf(workgroup, workgroups);
  let pivot = x[address(chunk.channel, cursorAt(chunk.begin))];
  var m = chunk.begin + local;
  var at = cursorAt(m);
  var sum = 0.0;
  var sumSquares = 0.0;
  for (; m < chunk.end; m += WORKGROUP_SIZE) {
    let d = x[address(chunk.channel, at)] - pivot;
    sum += d;
    sumSquares = fma(d, d, sumSquares);
    at = stepCursor(at);
  }
  reduceAndStore(local, chunk, pivot, sum, sumSquares, 1u);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn statsRunsVec4(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  if (workgroup.x + workgroup.y * workgroups.x >= params.workgroupCount) {
    return;
  }
  let chunk = chunkOf(workgroup, workgroups);
  let pivot = x4[address(chunk.channel, cursorAt(chunk.begin))].x;
  var m = chunk.begin + local;
  var at = cursorAt(m);
  var sum = vec4f(0.0);
  var sumSquares = vec4f(0.0);
  for (; m < chunk.end; m += WORKGROUP_SIZE) {
    let d = x4[address(chunk.channel, at)] - pivot;
    sum += d;
    sumSquares = fma(d, d, sumSquares);
    at = stepCursor(at);
  }
  let ones = vec4f(1.0);
  reduceAndStore(local, chunk, pivot, dot(sum, ones), dot(sumSquares, ones), 4u);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn statsRunsSegmentsScalar(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let t = segmentThread(workgroup, workgroups, local);
  if (t >= params.threads) {
    return;
  }
  let segment = segmentOf(t);
  let pivot = x[segment.begin];
  var sum = 0.0;
  var sumSquares = 0.0;
  for (var a = segment.begin; a < segment.end; a += 1u) {
    let d = x[a] - pivot;
    sum += d;
    sumSquares = fma(d, d, sumSquares);
  }
  partials[partialIndex(segment.channel, segment.chunk)] = shiftedPartial(f32(segment.end - segment.begin), pivot, sum, sumSquares);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn statsRunsSegmentsVec4(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let t = segmentThread(workgroup, workgroups, local);
  if (t >= params.threads) {
    return;
  }
  let segment = segmentOf(t);
  let pivot = x4[segment.begin].x;
  var sum = vec4f(0.0);
  var sumSquares = vec4f(0.0);
  for (var a = segment.begin; a < segment.end; a += 1u) {
    let d = x4[a] - pivot;
    sum += d;
    sumSquares = fma(d, d, sumSquares);
  }
  let ones = vec4f(1.0);
  partials[partialIndex(segment.channel, segment.chunk)] = shiftedPartial(f32(segment.end - segment.begin) * 4.0, pivot, dot(sum, ones), dot(sumSquares, ones));
}
