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

struct Params {
  channels: u32,
  inner: u32,          // values (or vec4s) per run
  valuesPerChannel: u32, // outer · inner, in the same units
  chunkLength: u32,    // L: units per workgroup
  chunks: u32,         // K
  workgroupCount: u32, // C · K
  stepOuter: u32,      // WORKGROUP_SIZE / inner
  stepInner: u32,      // WORKGROUP_SIZE % inner
  // A tensor larger than one binding is reduced in slabs (see slabs.ts), each a dense sub-view
  // [outer', channels, inner] of the whole; these place the slab in the whole.
  skip: u32,           // units bound before the slab's first value (it starts at an aligned address)
  chunkBase: u32,      // index of the slab's first partial row
  channelBase: u32,    // global index of the slab's first channel
  totalChannels: u32,  // C of the whole tensor: the row length of partials (and stats)
  // The Segments entry points (a thread per piece of a run; chunkLength is then the piece length
  // and chunks the pieces per channel, outer · segmentsPerRun):
  segmentsPerRun: u32,
  threads: u32,        // outer · channels · segmentsPerRun
}

override WORKGROUP_SIZE: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> x4: array<vec4f>;
// partials[(chunkBase + k) · C + c] = (count, shifted mean, M2, pivot), as stats-rows.wgsl writes them
@group(0) @binding(2) var<storage, read_write> partials: array<vec4f>;

fn isFinite(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u;
}

struct Chunk {
  channel: u32,
  chunk: u32,
  begin: u32,
  end: u32,
}

fn chunkOf(workgroup: vec3u, workgroups: vec3u) -> Chunk {
  let w = workgroup.x + workgroup.y * workgroups.x;
  let chunk = w % params.chunks;
  let begin = chunk * params.chunkLength;
  return Chunk(w / params.chunks, chunk, begin, min(begin + params.chunkLength, params.valuesPerChannel));
}

// Segments (tuning.runSegments): no workgroup sum. Thread t reduces piece t % S of run t / S (runs in
// memory order: run r is channel r % C of row r / C), chunkLength units, and writes its own partial
// as chunk (row · S + piece); the finalize merges the outer · S partials of each channel. Neighbouring
// threads read neighbouring pieces, and there is no barrier, which on a software adapter costs more
// than the reads.
struct Segment {
  channel: u32,
  chunk: u32,
  begin: u32, // addresses [begin, end)
  end: u32,
}

fn segmentOf(t: u32) -> Segment {
  let run = t / params.segmentsPerRun;
  let piece = t % params.segmentsPerRun;
  let start = piece * params.chunkLength;
  let runStart = params.skip + run * params.inner;
  let chunk = (run / params.channels) * params.segmentsPerRun + piece;
  return Segment(run % params.channels, chunk, runStart + start, runStart + min(start + params.chunkLength, params.inner));
}

fn partialIndex(channel: u32, chunk: u32) -> u32 {
  return (params.chunkBase + chunk) * params.totalChannels + params.channelBase + channel;
}

fn segmentThread(workgroup: vec3u, workgroups: vec3u, local: u32) -> u32 {
  return (workgroup.x + workgroup.y * workgroups.x) * WORKGROUP_SIZE + local;
}

fn address(channel: u32, outer: u32, inner: u32) -> u32 {
  return params.skip + (outer * params.channels + channel) * params.inner + inner;
}

// Adds up the workgroup's shifted sums and stores the chunk's partial; every thread of the workgroup
// must call it, in uniform control flow (workgroupSum has barriers, and subgroup operations in its
// subgroups version).
fn reduceAndStore(local: u32, chunk: Chunk, pivot: f32, sum: f32, sumSquares: f32, valuesPerUnit: u32) {
  let total = workgroupSum(local, vec2f(sum, sumSquares));
  if (local == 0u) {
    let count = f32((chunk.end - chunk.begin) * valuesPerUnit);
    let shiftedMean = total.x / count;
    var partial = vec4f(count, shiftedMean, max(total.y - total.x * shiftedMean, 0.0), pivot);
    if (!(isFinite(total.x) && isFinite(total.y))) {
      partial = vec4f(count, 0.0, -1.0, pivot);
    }
    partials[(params.chunkBase + chunk.chunk) * params.totalChannels + params.channelBase + chunk.channel] = partial;
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
  let pivot = x[address(chunk.channel, chunk.begin / params.inner, chunk.begin % params.inner)];
  var m = chunk.begin + local;
  var o = m / params.inner;
  var i = m % params.inner;
  var sum = 0.0;
  var sumSquares = 0.0;
  for (; m < chunk.end; m += WORKGROUP_SIZE) {
    let d = x[address(chunk.channel, o, i)] - pivot;
    sum += d;
    sumSquares = fma(d, d, sumSquares);
    i += params.stepInner;
    o += params.stepOuter;
    if (i >= params.inner) {
      i -= params.inner;
      o += 1u;
    }
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
  let pivot = x4[address(chunk.channel, chunk.begin / params.inner, chunk.begin % params.inner)].x;
  var m = chunk.begin + local;
  var o = m / params.inner;
  var i = m % params.inner;
  var sum = vec4f(0.0);
  var sumSquares = vec4f(0.0);
  for (; m < chunk.end; m += WORKGROUP_SIZE) {
    let d = x4[address(chunk.channel, o, i)] - pivot;
    sum += d;
    sumSquares = fma(d, d, sumSquares);
    i += params.stepInner;
    o += params.stepOuter;
    if (i >= params.inner) {
      i -= params.inner;
      o += 1u;
    }
  }
  let ones = vec4f(1.0);
  reduceAndStore(local, chunk, pivot, dot(sum, ones), dot(sumSquares, ones), 4u);
}

fn shiftedPartial(count: f32, pivot: f32, sum: f32, sumSquares: f32) -> vec4f {
  if (!(isFinite(sum) && isFinite(sumSquares))) {
    return vec4f(count, 0.0, -1.0, pivot);
  }
  let shiftedMean = sum / count;
  return vec4f(count, shiftedMean, max(sumSquares - sum * shiftedMean, 0.0), pivot);
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
