// #import rows-lanes moments tensor-storage grid
// Per-channel partial statistics when channels are contiguous in memory (inner == 1: NC, NLC, NHWC,
// NDHWC), reading x exactly once.
//
// Thread g covers channel group `g % groups` (one channel, or four with the vec4 entry point) and
// rows k, k + K, k + 2K, … with k = g / groups and K = params.rowLanes. Consecutive threads read
// consecutive addresses whatever C is, so every workgroup reads one contiguous span.
//
// A thread reads its rows in blocks (moments.wgsl, put in front of this file with rows-lanes.wgsl):
// 16 rows of its channel, or 8 rows of its four channels with the vec4 entry point, all loads in
// flight together; it takes each block's moments in registers and merges them into its running
// moments (count, mean about a pivot, M2 and the pivot, which is the thread's first value). The
// rows of the last block past the lane's end are read again and ignored. It writes its moments as
// its partial; `finalize.wgsl` merges the partials with Chan's formula. A NaN or ±Inf read makes
// the moments non-finite for good, and the partial is flagged with M2 = −1 (momentsOrFlag).

override WORKGROUP_SIZE: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<tensor>;
@group(0) @binding(1) var<storage, read> x4: array<tensor4>;
// partials[(chunkBase + k) · C + c] = (count, mean − pivot, M2, pivot), moments.wgsl's layout; M2 = −1
// when the thread read a NaN or ±Inf
@group(0) @binding(2) var<storage, read_write> partials: array<vec4f>;

// Params and lanesOf(g), the rows of thread g's lane: rows-lanes.wgsl, put in front of
// this file.

@compute @workgroup_size(WORKGROUP_SIZE)
fn statsRowsScalar(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let g = gridThread(workgroup, workgroups, local);
  if (g >= params.threads) {
    return;
  }
  let channel = g % params.groups;
  let lane = lanesOf(g);
  let step = lane.step * params.groups;
  let rows = (lane.end - lane.first + lane.step - 1u) / lane.step;
  var index = params.skip + lane.first * params.groups + channel;
  let pivot = fromTensor(x[index]);
  var moments = vec4f(0.0, 0.0, 0.0, pivot);
  let full = rows / 16u;
  for (var block = 0u; block < full; block += 1u) {
    let v0 = vec4f(fromTensor(x[index]), fromTensor(x[index + step]), fromTensor(x[index + 2u * step]), fromTensor(x[index + 3u * step]));
    let v1 = vec4f(fromTensor(x[index + 4u * step]), fromTensor(x[index + 5u * step]), fromTensor(x[index + 6u * step]), fromTensor(x[index + 7u * step]));
    let v2 = vec4f(fromTensor(x[index + 8u * step]), fromTensor(x[index + 9u * step]), fromTensor(x[index + 10u * step]), fromTensor(x[index + 11u * step]));
    let v3 = vec4f(fromTensor(x[index + 12u * step]), fromTensor(x[index + 13u * step]), fromTensor(x[index + 14u * step]), fromTensor(x[index + 15u * step]));
    moments = mergeBlock(moments, 16.0, channelBlock(v0, v1, v2, v3, pivot));
    index += 16u * step;
  }
  let left = rows - 16u * full;
  if (left > 0u) {
    // Rows past the lane's end repeat its last row; channelTail ignores them.
    let last = left - 1u;
    var v: array<f32, 16>;
    for (var k = 0u; k < 16u; k += 1u) {
      v[k] = fromTensor(x[index + min(k, last) * step]);
    }
    let tail = channelTail(vec4f(v[0], v[1], v[2], v[3]), vec4f(v[4], v[5], v[6], v[7]), vec4f(v[8], v[9], v[10], v[11]), vec4f(v[12], v[13], v[14], v[15]), left, pivot);
    moments = mergeBlock(moments, f32(left), tail);
  }
  partials[(params.chunkBase + lane.index) * params.groups + channel] = momentsOrFlag(moments);
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn statsRowsVec4(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let g = gridThread(workgroup, workgroups, local);
  if (g >= params.threads) {
    return;
  }
  let group = g % params.groups;
  let lane = lanesOf(g);
  let step = lane.step * params.groups;
  let rows = (lane.end - lane.first + lane.step - 1u) / lane.step;
  var index = params.skip + lane.first * params.groups + group;
  // Four channels: each lane of a vec4 load belongs to its own channel, with its own pivot.
  let pivot = fromTensor4(x4[index]);
  var moments = RowsMoments(0.0, vec4f(0.0), vec4f(0.0));
  let full = rows / 8u;
  for (var block = 0u; block < full; block += 1u) {
    let r = array<vec4f, 8>(
      fromTensor4(x4[index]), fromTensor4(x4[index + step]), fromTensor4(x4[index + 2u * step]), fromTensor4(x4[index + 3u * step]),
      fromTensor4(x4[index + 4u * step]), fromTensor4(x4[index + 5u * step]), fromTensor4(x4[index + 6u * step]), fromTensor4(x4[index + 7u * step]),
    );
    moments = mergeRows(moments, 8.0, rowsBlock(r, pivot));
    index += 8u * step;
  }
  let left = rows - 8u * full;
  if (left > 0u) {
    // Rows past the lane's end repeat its last row; rowsTail ignores them.
    let last = left - 1u;
    var r: array<vec4f, 8>;
    for (var k = 0u; k < 8u; k += 1u) {
      r[k] = fromTensor4(x4[index + min(k, last) * step]);
    }
    moments = mergeRows(moments, f32(left), rowsTail(r, left, pivot));
  }
  let out = ((params.chunkBase + lane.index) * params.groups + group) * 4u;
  partials[out] = momentsOrFlag(vec4f(moments.count, moments.mean.x, moments.m2.x, pivot.x));
  partials[out + 1u] = momentsOrFlag(vec4f(moments.count, moments.mean.y, moments.m2.y, pivot.y));
  partials[out + 2u] = momentsOrFlag(vec4f(moments.count, moments.mean.z, moments.m2.z, pivot.z));
  partials[out + 3u] = momentsOrFlag(vec4f(moments.count, moments.mean.w, moments.m2.w, pivot.w));
}
