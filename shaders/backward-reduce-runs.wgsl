// #import activation runs-walk workgroup-sum tensor-storage grid
// The two per-channel sums of the backward pass when each channel is stored as runs of `inner`
// contiguous values (inner > 1: NCL, NCHW, NCDHW), reading x and dy exactly once:
//   Σ dy  and  Σ dy · (x − mean),
// with dy first set to 0, when RELU is set, where the forward's output y (bound here, as the forward
// stored it) does not pass relu's gradient: reluGradient of activation.wgsl, a bit test on y.
//
// The work is split exactly like stats-runs.wgsl, with the same Params: workgroup w reduces chunk
// k = w % K of channel c = w / K, the values m ∈ [k·L, (k+1)·L) of the channel, m = o · inner + i ↦
// address (o · C + c) · inner + i. Threads stride through the chunk by WORKGROUP_SIZE, reading four
// units at a time (four independent loads of x and of dy in flight) and adding each block of four
// before adding it to their sums, and workgroupSum adds up their sums (a tree in workgroup memory, or subgroup operations, from the
// helper file shader-sources.ts puts in front of this one); one partial per chunk goes to
// `backward-finalize.wgsl`.
// The vec4 entry point is used when inner % 4 == 0: the four lanes then belong to one channel.

// Params, the chunks and the segments of the 'Runs' reductions: runs-walk.wgsl, put in front of
// this file (shader-sources.ts).

override WORKGROUP_SIZE: u32;
override RELU: bool;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<tensor>;
@group(0) @binding(1) var<storage, read> x4: array<tensor4>;
@group(0) @binding(2) var<storage, read> dy: array<tensor>;
@group(0) @binding(2) var<storage, read> dy4: array<tensor4>;
// The forward's output, read only when RELU is set (without relu any read-only tensor is bound here).
@group(0) @binding(3) var<storage, read> y: array<tensor>;
@group(0) @binding(3) var<storage, read> y4: array<tensor4>;
// stats = [mean | variance | invStd | scale | shift], C values each (see finalize.wgsl); only mean is read
@group(0) @binding(4) var<storage, read> stats: array<f32>;
// partials[(chunkBase + k) · C + c] = (Σ dy, Σ dy · (x − mean))
@group(0) @binding(5) var<storage, read_write> partials: array<vec2f>;

// What a thread needs of its channel's statistics.
struct ChannelStats {
  mean: f32,
}

fn channelStats(slabChannel: u32) -> ChannelStats {
  return ChannelStats(stats[params.channelBase + slabChannel]);
}

// dy at four addresses with the relu mask applied from the forward's y there (activation.wgsl);
// y is read only with RELU.
fn maskedDy(a0: u32, a1: u32, a2: u32, a3: u32) -> vec4f {
  let d = vec4f(fromTensor(dy[a0]), fromTensor(dy[a1]), fromTensor(dy[a2]), fromTensor(dy[a3]));
  if (RELU) {
    return reluGradient4(d, vec4f(fromTensor(y[a0]), fromTensor(y[a1]), fromTensor(y[a2]), fromTensor(y[a3])));
  }
  return d;
}

fn maskedDy4(a: u32) -> vec4f {
  if (RELU) {
    return reluGradient4(fromTensor4(dy4[a]), fromTensor4(y4[a]));
  }
  return fromTensor4(dy4[a]);
}

// (Σ dy, Σ dy · (x − mean)) of four values of one channel (dy masked already), lanes ≥ valid
// counting as dy = 0.
fn blockSums(xv: vec4f, d: vec4f, valid: u32, s: ChannelStats) -> vec2f {
  let g = select(vec4f(0.0), d, vec4u(0u, 1u, 2u, 3u) < vec4u(valid));
  let p = g * (xv - s.mean);
  return vec2f((g.x + g.y) + (g.z + g.w), (p.x + p.y) + (p.z + p.w));
}

// Adds up the workgroup's two sums and stores the chunk's partial; every thread of the workgroup
// must call it, in uniform control flow (workgroupSum has barriers, and subgroup operations in its
// subgroups version).
fn reduceAndStore(local: u32, chunk: Chunk, sum: vec2f) {
  let total = workgroupSum(local, sum);
  if (local == 0u) {
    partials[partialIndex(chunk.channel, chunk.chunk)] = total;
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backwardReduceRunsScalar(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  // Whole workgroups leave together, so workgroupSum below stays in uniform control flow.
  if (gridWorkgroup(workgroup, workgroups) >= params.workgroupCount) {
    return;
  }
  let chunk = chunkOf(workgroup, workgroups);
  let s = channelStats(chunk.channel);
  let m = chunk.begin + local;
  let units = select(0u, (chunk.end - m + WORKGROUP_SIZE - 1u) / WORKGROUP_SIZE, m < chunk.end);
  var at = cursorAt(m);
  var sum = vec2f(0.0);
  for (var u = 0u; u < units; u += 4u) {
    let valid = min(units - u, 4u);
    let at1 = stepCursor(at);
    let at2 = stepCursor(at1);
    let at3 = stepCursor(at2);
    // Units past the thread's last repeat the block's first and count as dy = 0.
    let a0 = address(chunk.channel, at);
    let a1 = select(a0, address(chunk.channel, at1), valid > 1u);
    let a2 = select(a0, address(chunk.channel, at2), valid > 2u);
    let a3 = select(a0, address(chunk.channel, at3), valid > 3u);
    sum += blockSums(vec4f(fromTensor(x[a0]), fromTensor(x[a1]), fromTensor(x[a2]), fromTensor(x[a3])), maskedDy(a0, a1, a2, a3), valid, s);
    at = stepCursor(at3);
  }
  reduceAndStore(local, chunk, sum);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backwardReduceRunsVec4(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  if (gridWorkgroup(workgroup, workgroups) >= params.workgroupCount) {
    return;
  }
  let chunk = chunkOf(workgroup, workgroups);
  let s = channelStats(chunk.channel);
  let m = chunk.begin + local;
  let units = select(0u, (chunk.end - m + WORKGROUP_SIZE - 1u) / WORKGROUP_SIZE, m < chunk.end);
  var at = cursorAt(m);
  var sum = vec2f(0.0);
  for (var u = 0u; u < units; u += 4u) {
    let valid = min(units - u, 4u);
    let at1 = stepCursor(at);
    let at2 = stepCursor(at1);
    let at3 = stepCursor(at2);
    let a0 = address(chunk.channel, at);
    let a1 = select(a0, address(chunk.channel, at1), valid > 1u);
    let a2 = select(a0, address(chunk.channel, at2), valid > 2u);
    let a3 = select(a0, address(chunk.channel, at3), valid > 3u);
    let s0 = blockSums(fromTensor4(x4[a0]), maskedDy4(a0), 4u, s);
    let s1 = blockSums(fromTensor4(x4[a1]), maskedDy4(a1), select(0u, 4u, valid > 1u), s);
    let s2 = blockSums(fromTensor4(x4[a2]), maskedDy4(a2), select(0u, 4u, valid > 2u), s);
    let s3 = blockSums(fromTensor4(x4[a3]), maskedDy4(a3), select(0u, 4u, valid > 3u), s);
    sum += (s0 + s1) + (s2 + s3);
    at = stepCursor(at3);
  }
  reduceAndStore(local, chunk, sum);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backwardReduceRunsSegmentsScalar(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let t = gridThread(workgroup, workgroups, local);
  if (t >= params.threads) {
    return;
  }
  let segment = segmentOf(t);
  let s = channelStats(segment.channel);
  var sum = vec2f(0.0);
  for (var a = segment.begin; a < segment.end; a += 4u) {
    let valid = min(segment.end - a, 4u);
    let a1 = a + min(1u, valid - 1u);
    let a2 = a + min(2u, valid - 1u);
    let a3 = a + min(3u, valid - 1u);
    sum += blockSums(vec4f(fromTensor(x[a]), fromTensor(x[a1]), fromTensor(x[a2]), fromTensor(x[a3])), maskedDy(a, a1, a2, a3), valid, s);
  }
  partials[partialIndex(segment.channel, segment.chunk)] = sum;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backwardReduceRunsSegmentsVec4(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let t = gridThread(workgroup, workgroups, local);
  if (t >= params.threads) {
    return;
  }
  let segment = segmentOf(t);
  let s = channelStats(segment.channel);
  var sum = vec2f(0.0);
  for (var a = segment.begin; a < segment.end; a += 4u) {
    let valid = min(segment.end - a, 4u);
    let a1 = a + min(1u, valid - 1u);
    let a2 = a + min(2u, valid - 1u);
    let a3 = a + min(3u, valid - 1u);
    let s0 = blockSums(fromTensor4(x4[a]), maskedDy4(a), 4u, s);
    let s1 = blockSums(fromTensor4(x4[a1]), maskedDy4(a1), select(0u, 4u, valid > 1u), s);
    let s2 = blockSums(fromTensor4(x4[a2]), maskedDy4(a2), select(0u, 4u, valid > 2u), s);
    let s3 = blockSums(fromTensor4(x4[a3]), maskedDy4(a3), select(0u, 4u, valid > 3u), s);
    sum += (s0 + s1) + (s2 + s3);
  }
  partials[partialIndex(segment.channel, segment.chunk)] = sum;
}
