// #import runs-walk workgroup-sum moments
// Per-channel partial statistics when each channel is stored as runs of `inner` contiguous values
// (inner > 1: NCL, NCHW, NCDHW), reading x exactly once.
//
// Workgroup w reduces chunk k = w % K of channel c = w / K: the values m ∈ [k·L, (k+1)·L) of the
// channel, m = o · inner + i ↦ address (o · C + c) · inner + i. Threads stride through the chunk by
// WORKGROUP_SIZE, so neighbouring threads read neighbouring addresses; (o, i) advance by a
// precomputed step with one carry instead of a division per value.
//
// Each thread reads four units at a time (four independent loads in flight) and merges each block
// into its running moments (moments.wgsl: count, mean about a pivot, M2, pivot; all threads start
// at the chunk's first value as pivot). The workgroup then merges its threads in two passes: a
// workgroup sum of the threads' counts × means (about the chunk's pivot) gives the chunk's mean;
// a second sum adds the threads' M2 and count × (thread mean − chunk mean)², terms that are all
// ≥ 0, so nothing cancels (workgroupSum: a tree in workgroup memory, or subgroup operations, from
// the helper file shader-sources.ts puts in front of this one). The chunk's partial (count, mean
// about the pivot, M2, pivot) is merged across chunks by `finalize.wgsl`.
// The vec4 entry point is used when inner % 4 == 0: the four lanes then belong to one channel, and
// each vec4 is a block. A NaN or an infinity makes the moments non-finite for good, and the chunk's
// partial is flagged with M2 = −1 (momentsOrFlag).
//
// The Segments entry points give each thread a piece of one run, read in blocks the same way, and
// write the thread's moments as its partial.

// Params, the chunks and the segments of the 'Runs' reductions: runs-walk.wgsl, put in front of
// this file (shader-sources.ts).

override WORKGROUP_SIZE: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> x4: array<vec4f>;
// partials[(chunkBase + k) · C + c] = (count, shifted mean, M2, pivot), as stats-rows.wgsl writes them
@group(0) @binding(2) var<storage, read_write> partials: array<vec4f>;

// The chunk's mean, from the first workgroup sum to every invocation.
var<workgroup> chunkMean: f32;

// Merges the threads' moments and stores the chunk's partial (see the top of this file); every
// thread of the workgroup must call it, in uniform control flow (workgroupSum has barriers, and
// subgroup operations in its subgroups version).
fn reduceAndStore(local: u32, chunk: Chunk, pivot: f32, moments: vec4f, valuesPerUnit: u32) {
  let count = f32((chunk.end - chunk.begin) * valuesPerUnit);
  // The thread's mean about the chunk's pivot (its own pivot followed its mean); an empty thread
  // adds nothing.
  let mean = select(0.0, (moments.w - pivot) + moments.y, moments.x > 0.0);
  let first = workgroupSum(local, vec2f(moments.x * mean, moments.z));
  if (local == 0u) {
    chunkMean = first.x / count;
  }
  workgroupBarrier();
  let deviation = mean - chunkMean;
  let spread = workgroupSum(local, vec2f(moments.x * deviation * deviation, 0.0));
  if (local == 0u) {
    partials[partialIndex(chunk.channel, chunk.chunk)] = momentsOrFlag(vec4f(count, chunkMean, first.y + spread.x, pivot));
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
  let m = chunk.begin + local;
  let units = select(0u, (chunk.end - m + WORKGROUP_SIZE - 1u) / WORKGROUP_SIZE, m < chunk.end);
  var at = cursorAt(m);
  var moments = vec4f(0.0, 0.0, 0.0, pivot);
  for (var u = 0u; u < units; u += 4u) {
    let valid = min(units - u, 4u);
    let at1 = stepCursor(at);
    let at2 = stepCursor(at1);
    let at3 = stepCursor(at2);
    // Units past the thread's last repeat its first; blockMoments ignores them.
    let a0 = address(chunk.channel, at);
    let values = vec4f(
      x[a0],
      x[select(a0, address(chunk.channel, at1), valid > 1u)],
      x[select(a0, address(chunk.channel, at2), valid > 2u)],
      x[select(a0, address(chunk.channel, at3), valid > 3u)],
    );
    moments = mergeBlock(moments, values, valid);
    at = stepCursor(at3);
  }
  reduceAndStore(local, chunk, pivot, moments, 1u);
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
  let m = chunk.begin + local;
  let units = select(0u, (chunk.end - m + WORKGROUP_SIZE - 1u) / WORKGROUP_SIZE, m < chunk.end);
  var at = cursorAt(m);
  var moments = vec4f(0.0, 0.0, 0.0, pivot);
  for (var u = 0u; u < units; u += 4u) {
    let valid = min(units - u, 4u);
    let at1 = stepCursor(at);
    let at2 = stepCursor(at1);
    let at3 = stepCursor(at2);
    let a0 = address(chunk.channel, at);
    let v0 = x4[a0];
    let v1 = x4[select(a0, address(chunk.channel, at1), valid > 1u)];
    let v2 = x4[select(a0, address(chunk.channel, at2), valid > 2u)];
    let v3 = x4[select(a0, address(chunk.channel, at3), valid > 3u)];
    moments = mergeBlock(moments, v0, 4u);
    moments = mergeBlock(moments, v1, select(0u, 4u, valid > 1u));
    moments = mergeBlock(moments, v2, select(0u, 4u, valid > 2u));
    moments = mergeBlock(moments, v3, select(0u, 4u, valid > 3u));
    at = stepCursor(at3);
  }
  reduceAndStore(local, chunk, pivot, moments, 4u);
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
  var moments = vec4f(0.0, 0.0, 0.0, x[segment.begin]);
  for (var a = segment.begin; a < segment.end; a += 4u) {
    let valid = min(segment.end - a, 4u);
    let values = vec4f(x[a], x[a + min(1u, valid - 1u)], x[a + min(2u, valid - 1u)], x[a + min(3u, valid - 1u)]);
    moments = mergeBlock(moments, values, valid);
  }
  partials[partialIndex(segment.channel, segment.chunk)] = momentsOrFlag(moments);
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
  var moments = vec4f(0.0, 0.0, 0.0, x4[segment.begin].x);
  for (var a = segment.begin; a < segment.end; a += 4u) {
    let valid = min(segment.end - a, 4u);
    let v0 = x4[a];
    let v1 = x4[a + min(1u, valid - 1u)];
    let v2 = x4[a + min(2u, valid - 1u)];
    let v3 = x4[a + min(3u, valid - 1u)];
    moments = mergeBlock(moments, v0, 4u);
    moments = mergeBlock(moments, v1, select(0u, 4u, valid > 1u));
    moments = mergeBlock(moments, v2, select(0u, 4u, valid > 2u));
    moments = mergeBlock(moments, v3, select(0u, 4u, valid > 3u));
  }
  partials[partialIndex(segment.channel, segment.chunk)] = momentsOrFlag(moments);
}
