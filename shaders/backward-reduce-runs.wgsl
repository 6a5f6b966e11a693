// The two per-channel sums of the backward pass when each channel is stored as runs of `inner`
// contiguous values (inner > 1: NCL, NCHW, NCDHW), reading x and dy exactly once:
//   Σ dy  and  Σ dy · (x − mean),
// with dy first set to 0, when RELU is set, where the forward's output y (bound here, as the forward
// stored it) does not pass relu's gradient: reluGradient of activation.wgsl, a bit test on y.
//
// The work is split exactly like stats-runs.wgsl, with the same Params: workgroup w reduces chunk
// k = w % K of channel c = w / K, the values m ∈ [k·L, (k+1)·L) of the channel, m = o · inner + i ↦
// address (o · C + c) · inner + i. Threads stride through the chunk by WORKGROUP_SIZE and
// workgroupSum adds up their sums (a tree in workgroup memory, or subgroup operations, from the
// helper file shader-sources.ts puts in front of this one); one partial per chunk goes to
// `backward-finalize.wgsl`.
// The vec4 entry point is used when inner % 4 == 0: the four lanes then belong to one channel.

// Params, the chunks and the segments of the 'Runs' reductions: runs-walk.wgsl, put in front of
// this file (shader-sources.ts).

override WORKGROUP_SIZE: u32;
override RELU: bool;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> x4: array<vec4f>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> dy4: array<vec4f>;
// The forward's output, read only when RELU is set (without relu any read-only tensor is bound here).
@group(0) @binding(3) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read> y4: array<vec4f>;
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
  if (workgroup.x + workgroup.y * workgroups.x >= params.workgroupCount) {
    return;
  }
  let chunk = chunkOf(workgroup, workgroups);
  let s = channelStats(chunk.channel);
  var m = chunk.begin + local;
  var at = cursorAt(m);
  var sumDy = 0.0;
  var sumDyXmu = 0.0;
  for (; m < chunk.end; m += WORKGROUP_SIZE) {
    let index = address(chunk.channel, at);
    let xv = x[index];
    var d = dy[index];
    if (RELU) {
      d = reluGradient(d, y[index]);
    }
    sumDy += d;
    sumDyXmu = fma(d, xv - s.mean, sumDyXmu);
    at = stepCursor(at);
  }
  reduceAndStore(local, chunk, vec2f(sumDy, sumDyXmu));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backwardReduceRunsVec4(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  if (workgroup.x + workgroup.y * workgroups.x >= params.workgroupCount) {
    return;
  }
  let chunk = chunkOf(workgroup, workgroups);
  let s = channelStats(chunk.channel);
  let mean = vec4f(s.mean);
  var m = chunk.begin + local;
  var at = cursorAt(m);
  var sumDy = vec4f(0.0);
  var sumDyXmu = vec4f(0.0);
  for (; m < chunk.end; m += WORKGROUP_SIZE) {
    let index = address(chunk.channel, at);
    let xv = x4[index];
    var d = dy4[index];
    if (RELU) {
      d = reluGradient4(d, y4[index]);
    }
    sumDy += d;
    sumDyXmu = fma(d, xv - mean, sumDyXmu);
    at = stepCursor(at);
  }
  let ones = vec4f(1.0);
  reduceAndStore(local, chunk, vec2f(dot(sumDy, ones), dot(sumDyXmu, ones)));
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backwardReduceRunsSegmentsScalar(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let t = segmentThread(workgroup, workgroups, local);
  if (t >= params.threads) {
    return;
  }
  let segment = segmentOf(t);
  let s = channelStats(segment.channel);
  var sumDy = 0.0;
  var sumDyXmu = 0.0;
  for (var a = segment.begin; a < segment.end; a += 1u) {
    let xv = x[a];
    var d = dy[a];
    if (RELU) {
      d = reluGradient(d, y[a]);
    }
    sumDy += d;
    sumDyXmu = fma(d, xv - s.mean, sumDyXmu);
  }
  partials[partialIndex(segment.channel, segment.chunk)] = vec2f(sumDy, sumDyXmu);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backwardReduceRunsSegmentsVec4(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let t = segmentThread(workgroup, workgroups, local);
  if (t >= params.threads) {
    return;
  }
  let segment = segmentOf(t);
  let s = channelStats(segment.channel);
  let mean = vec4f(s.mean);
  var sumDy = vec4f(0.0);
  var sumDyXmu = vec4f(0.0);
  for (var a = segment.begin; a < segment.end; a += 1u) {
    let xv = x4[a];
    var d = dy4[a];
    if (RELU) {
      d = reluGradient4(d, y4[a]);
    }
    sumDy += d;
    sumDyXmu = fma(d, xv - mean, sumDyXmu);
  }
  let ones = vec4f(1.0);
  partials[partialIndex(segment.channel, segment.chunk)] = vec2f(dot(sumDy, ones), dot(sumDyXmu, ones));
}
