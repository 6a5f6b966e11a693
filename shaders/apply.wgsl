// y = x · scale[c] + shift[c] (one fused multiply-add), then relu when RELU is set. Serves
// training (scale and shift from `finalize.wgsl`) and inference (from `inference-fold.wgsl`).
//
// The tensor is a sequence of units (values, or vec4s) viewed as [outer, C', inner']. Workgroup w
// handles units [w·B, (w+1)·B) with B = WORKGROUP_SIZE · UNITS_PER_THREAD, each thread every
// WORKGROUP_SIZE-th unit. A thread finds its channel with one division, then advances (c, i) by a
// precomputed step with carries instead of dividing per unit.
//
// Entry points: applyScalar (any layout), applyVec4Run (inner % 4 == 0: the four lanes share a
// channel), applyVec4Channels (inner == 1 and C % 4 == 0: the lanes are four consecutive channels).

struct Params {
  units: u32,          // units in this slab (the whole tensor unless it exceeds a binding; see slabs.ts)
  base: u32,           // global index of the slab's first unit, which fixes the channels
  channels: u32,       // C' in units: C, or C / 4 for applyVec4Channels
  inner: u32,          // inner' in units
  scaleOffset: u32,    // index of scale[0] in stats, in units of the stats binding
  shiftOffset: u32,
  stepInner: u32,      // WORKGROUP_SIZE % inner'
  stepChannel: u32,    // (WORKGROUP_SIZE / inner') % C'
}

override WORKGROUP_SIZE: u32;
override UNITS_PER_THREAD: u32;
override RELU: bool;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> x4: array<vec4f>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(2) var<storage, read> stats4: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> y4: array<vec4f>;

struct Cursor {
  unit: u32,
  channel: u32,
  inner: u32,
}

fn firstUnit(workgroup: vec3u, workgroups: vec3u, local: u32) -> Cursor {
  let w = workgroup.x + workgroup.y * workgroups.x;
  let unit = w * WORKGROUP_SIZE * UNITS_PER_THREAD + local;
  let global = params.base + unit;
  return Cursor(unit, (global / params.inner) % params.channels, global % params.inner);
}

fn advance(cursor: ptr<function, Cursor>) {
  (*cursor).unit += WORKGROUP_SIZE;
  (*cursor).inner += params.stepInner;
  var carry = 0u;
  if ((*cursor).inner >= params.inner) {
    (*cursor).inner -= params.inner;
    carry = 1u;
  }
  (*cursor).channel += params.stepChannel + carry;
  if ((*cursor).channel >= params.channels) {
    (*cursor).channel -= params.channels;
  }
}

// relu as torch.relu: negative values become 0 and NaN stays NaN. (WGSL's max(NaN, 0) may return
// 0, so the comparison is written out: NaN < 0 is false.)
fn activate(v: f32) -> f32 {
  if (RELU) {
    return select(v, 0.0, v < 0.0);
  }
  return v;
}

fn activate4(v: vec4f) -> vec4f {
  if (RELU) {
    return select(v, vec4f(0.0), v < vec4f(0.0));
  }
  return v;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn applyScalar(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  var cursor = firstUnit(workgroup, workgroups, local);
  for (var n = 0u; n < UNITS_PER_THREAD && cursor.unit < params.units; n += 1u) {
    let c = cursor.channel;
    y[cursor.unit] = activate(fma(x[cursor.unit], stats[params.scaleOffset + c], stats[params.shiftOffset + c]));
    advance(&cursor);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn applyVec4Run(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  var cursor = firstUnit(workgroup, workgroups, local);
  for (var n = 0u; n < UNITS_PER_THREAD && cursor.unit < params.units; n += 1u) {
    let c = cursor.channel;
    let scale = vec4f(stats[params.scaleOffset + c]);
    let shift = vec4f(stats[params.shiftOffset + c]);
    y4[cursor.unit] = activate4(fma(x4[cursor.unit], scale, shift));
    advance(&cursor);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn applyVec4Channels(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  var cursor = firstUnit(workgroup, workgroups, local);
  for (var n = 0u; n < UNITS_PER_THREAD && cursor.unit < params.units; n += 1u) {
    let c = cursor.channel;
    y4[cursor.unit] = activate4(fma(x4[cursor.unit], stats4[params.scaleOffset + c], stats4[params.shiftOffset + c]));
    advance(&cursor);
  }
}
