// #import runs-walk workgroup-sum moments tensor-storage grid
// Per-channel partial statistics when each channel is stored as runs of `inner` contiguous values
// (inner > 1: NCL, NCHW, NCDHW), reading x exactly once.
//
// Workgroup w reduces chunk k = w % K of channel c = w / K: the values m ∈ [k·L, (k+1)·L) of the
// channel, m = o · inner + i ↦ address (o · C + c) · inner + i. Threads stride through the chunk by
// WORKGROUP_SIZE, so neighbouring threads read neighbouring addresses; (o, i) advance by a
// precomputed step with one carry instead of a division per value.
//
// Each thread reads its units in blocks of 16 values (16 units, or four vec4 units; moments.wgsl)
// and merges each block into its running moments (count, mean about a pivot, M2, pivot; all threads
// start at the chunk's first value as pivot). The workgroup then merges its threads in two passes:
// a workgroup sum of the threads' counts × means (about the chunk's pivot) gives the chunk's mean;
// a second sum adds the threads' M2 and count × (thread mean − chunk mean)², terms that are all
// ≥ 0, so nothing cancels (workgroupSum: a tree in workgroup memory, or subgroup operations, from
// the helper file shader-sources.ts puts in front of this one). The chunk's partial (count, mean
// about the pivot, M2, pivot) is merged across chunks by `finalize.wgsl`.
// The vec4 entry point is used when inner % 4 == 0: the four lanes then belong to one channel. A
// NaN or an infinity makes the moments non-finite for good, and the chunk's partial is flagged
// with M2 = −1 (momentsOrFlag).
//
// The Segments entry points give each thread a piece of one run, read in blocks the same way, and
// write the thread's moments as its partial.

// Params, the chunks and the segments of the 'Runs' reductions: runs-walk.wgsl, put in front of
// this file (shader-sources.ts).

override WORKGROUP_SIZE: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<tensor>;
@group(0) @binding(1) var<storage, read> x4: array<tensor4>;
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

// Four consecutive units of the chunk's channel from cursor `at`, which moves past them.
fn loadUnits(channel: u32, at: ptr<function, RunCursor>) -> vec4f {
  let a0 = address(channel, *at);
  let at1 = stepCursor(*at);
  let at2 = stepCursor(at1);
  let at3 = stepCursor(at2);
  *at = stepCursor(at3);
  return vec4f(fromTensor(x[a0]), fromTensor(x[address(channel, at1)]), fromTensor(x[address(channel, at2)]), fromTensor(x[address(channel, at3)]));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn statsRunsScalar(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  // Whole workgroups leave together, so workgroupSum below stays in uniform control flow.
  if (gridWorkgroup(workgroup, workgroups) >= params.workgroupCount) {
    return;
  }
  let chunk = chunkOf(workgroup, workgroups);
  let pivot = fromTensor(x[address(chunk.channel, cursorAt(chunk.begin))]);
  let m = chunk.begin + local;
  let units = select(0u, (chunk.end - m + WORKGROUP_SIZE - 1u) / WORKGROUP_SIZE, m < chunk.end);
  var at = cursorAt(m);
  var moments = vec4f(0.0, 0.0, 0.0, pivot);
  let full = units / 16u;
  for (var block = 0u; block < full; block += 1u) {
    let v0 = loadUnits(chunk.channel, &at);
    let v1 = loadUnits(chunk.channel, &at);
    let v2 = loadUnits(chunk.channel, &at);
    let v3 = loadUnits(chunk.channel, &at);
    moments = mergeBlock(moments, 16.0, channelBlock(v0, v1, v2, v3, pivot));
  }
  let left = units - 16u * full;
  if (left > 0u) {
    // Units past the thread's last repeat its first; channelTail ignores them.
    let first = address(chunk.channel, at);
    var v: array<f32, 16>;
    for (var k = 0u; k < 16u; k += 1u) {
      v[k] = fromTensor(x[select(first, address(chunk.channel, at), k < left)]);
      at = stepCursor(at);
    }
    let tail = channelTail(vec4f(v[0], v[1], v[2], v[3]), vec4f(v[4], v[5], v[6], v[7]), vec4f(v[8], v[9], v[10], v[11]), vec4f(v[12], v[13], v[14], v[15]), left, pivot);
    moments = mergeBlock(moments, f32(left), tail);
  }
  reduceAndStore(local, chunk, pivot, moments, 1u);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn statsRunsVec4(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  if (gridWorkgroup(workgroup, workgroups) >= params.workgroupCount) {
    return;
  }
  let chunk = chunkOf(workgroup, workgroups);
  let pivot = fromTensor4(x4[address(chunk.channel, cursorAt(chunk.begin))]).x;
  let m = chunk.begin + local;
  let units = select(0u, (chunk.end - m + WORKGROUP_SIZE - 1u) / WORKGROUP_SIZE, m < chunk.end);
  var at = cursorAt(m);
  var moments = vec4f(0.0, 0.0, 0.0, pivot);
  // A block is four vec4 units, 16 values of the channel.
  let full = units / 4u;
  for (var block = 0u; block < full; block += 1u) {
    let at1 = stepCursor(at);
    let at2 = stepCursor(at1);
    let at3 = stepCursor(at2);
    let v0 = fromTensor4(x4[address(chunk.channel, at)]);
    let v1 = fromTensor4(x4[address(chunk.channel, at1)]);
    let v2 = fromTensor4(x4[address(chunk.channel, at2)]);
    let v3 = fromTensor4(x4[address(chunk.channel, at3)]);
    moments = mergeBlock(moments, 16.0, channelBlock(v0, v1, v2, v3, pivot));
    at = stepCursor(at3);
  }
  let left = units - 4u * full;
  if (left > 0u) {
    // Units past the thread's last repeat its first; channelTail ignores them.
    let a0 = address(chunk.channel, at);
    let at1 = stepCursor(at);
    let at2 = stepCursor(at1);
    let v0 = fromTensor4(x4[a0]);
    let v1 = fromTensor4(x4[select(a0, address(chunk.channel, at1), left > 1u)]);
    let v2 = fromTensor4(x4[select(a0, address(chunk.channel, at2), left > 2u)]);
    moments = mergeBlock(moments, f32(4u * left), channelTail(v0, v1, v2, v0, 4u * left, pivot));
  }
  reduceAndStore(local, chunk, pivot, moments, 4u);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn statsRunsSegmentsScalar(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let t = gridThread(workgroup, workgroups, local);
  if (t >= params.threads) {
    return;
  }
  let segment = segmentOf(t);
  let pivot = fromTensor(x[segment.begin]);
  var moments = vec4f(0.0, 0.0, 0.0, pivot);
  var a = segment.begin;
  let full = (segment.end - segment.begin) / 16u;
  for (var block = 0u; block < full; block += 1u) {
    let v0 = vec4f(fromTensor(x[a]), fromTensor(x[a + 1u]), fromTensor(x[a + 2u]), fromTensor(x[a + 3u]));
    let v1 = vec4f(fromTensor(x[a + 4u]), fromTensor(x[a + 5u]), fromTensor(x[a + 6u]), fromTensor(x[a + 7u]));
    let v2 = vec4f(fromTensor(x[a + 8u]), fromTensor(x[a + 9u]), fromTensor(x[a + 10u]), fromTensor(x[a + 11u]));
    let v3 = vec4f(fromTensor(x[a + 12u]), fromTensor(x[a + 13u]), fromTensor(x[a + 14u]), fromTensor(x[a + 15u]));
    moments = mergeBlock(moments, 16.0, channelBlock(v0, v1, v2, v3, pivot));
    a += 16u;
  }
  let left = segment.end - a;
  if (left > 0u) {
    // Values past the segment's end repeat its last; channelTail ignores them.
    let last = segment.end - 1u;
    var v: array<f32, 16>;
    for (var k = 0u; k < 16u; k += 1u) {
      v[k] = fromTensor(x[min(a + k, last)]);
    }
    let tail = channelTail(vec4f(v[0], v[1], v[2], v[3]), vec4f(v[4], v[5], v[6], v[7]), vec4f(v[8], v[9], v[10], v[11]), vec4f(v[12], v[13], v[14], v[15]), left, pivot);
    moments = mergeBlock(moments, f32(left), tail);
  }
  partials[partialIndex(segment.channel, segment.chunk)] = momentsOrFlag(moments);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn statsRunsSegmentsVec4(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let t = gridThread(workgroup, workgroups, local);
  if (t >= params.threads) {
    return;
  }
  let segment = segmentOf(t);
  let pivot = fromTensor4(x4[segment.begin]).x;
  var moments = vec4f(0.0, 0.0, 0.0, pivot);
  var a = segment.begin;
  let full = (segment.end - segment.begin) / 4u;
  for (var block = 0u; block < full; block += 1u) {
    moments = mergeBlock(moments, 16.0, channelBlock(fromTensor4(x4[a]), fromTensor4(x4[a + 1u]), fromTensor4(x4[a + 2u]), fromTensor4(x4[a + 3u]), pivot));
    a += 4u;
  }
  let left = segment.end - a;
  if (left > 0u) {
    // Units past the segment's end repeat its last; channelTail ignores them.
    let last = segment.end - 1u;
    let v0 = fromTensor4(x4[a]);
    moments = mergeBlock(moments, f32(4u * left), channelTail(v0, fromTensor4(x4[min(a + 1u, last)]), fromTensor4(x4[min(a + 2u, last)]), v0, 4u * left, pivot));
  }
  partials[partialIndex(segment.channel, segment.chunk)] = momentsOrFlag(moments);
}
