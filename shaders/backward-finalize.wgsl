// Adds up the K partial sums (Σ dy, Σ dy · (x − mean)) of each channel written by
// backward-reduce-rows/-runs.wgsl, and turns them into the parameter gradients and the per-channel
// coefficients of backward-apply.wgsl (x̂ = (x − mean) · invStd, M values per channel):
//   dbeta  = Σ dy
//   dgamma = Σ dy · x̂ = invStd · Σ dy · (x − mean)
//   dx     = k · dy + c + m · (x − mean), with
//     training:  k = γ · invStd,  c = −k · dbeta / M,  m = −k · invStd · dgamma / M,
//     eval:      k = γ · invStd,  c = 0,  m = 0   (frozen statistics: dx = dy · γ · invStd).
// This is γ · invStd / M · (M · dy − dbeta − x̂ · dgamma) with (x − mean) kept explicit, so nothing
// cancels catastrophically when the mean is large. With ACCUMULATE the gradients are added to what
// dgamma and dbeta already hold (a layer accumulating over several backward passes, like PyTorch).
//
// Non-finite sums (a NaN or ±Inf in the channel's dy, x or statistics, or a float32 overflow) are
// written as NaN, each sum on its own, like PyTorch's results up to the sign of an infinity; in
// training a NaN sum makes c or m NaN, so every dx of the channel is NaN. NaN cannot be written as a
// WGSL constant (constant evaluation rejects it), so it comes in through the uniform.
//
// Two entry points, as in finalize.wgsl: backwardFinalizeTree gives each channel a workgroup whose
// threads add strided subsets of the partials and then a tree in workgroup memory; backwardFinalizeSerial
// gives each channel one thread that adds its few partials in order. The tree keeps its barriers on
// devices with subgroups too, for the reasons finalize.wgsl gives.

struct Params {
  channels: u32,
  chunks: u32,        // K partials per channel
  invCount: f32,      // 1 / M
  nan: f32,           // a quiet NaN, written by the host
}

override WORKGROUP_SIZE: u32;
// false for frozen (eval-mode) statistics: the batch statistics do not depend on x.
override TRAIN: bool;
override ACCUMULATE: bool;
// false when the caller wants no such gradient: the binding is then a placeholder.
override WRITE_DGAMMA: bool;
override WRITE_DBETA: bool;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> partials: array<vec2f>;
// stats = [mean | variance | invStd | scale | shift], C values each (see finalize.wgsl)
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(5) var<storage, read_write> dbeta: array<f32>;
// coefficients = [k | c | m | mean], C values each, read by backward-apply.wgsl
@group(0) @binding(6) var<storage, read_write> coefficients: array<f32>;

var<workgroup> summed: array<vec2f, WORKGROUP_SIZE>;

fn isFinite(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u;
}

fn canonical(v: f32) -> f32 {
  return select(params.nan, v, isFinite(v));
}

fn writeChannel(channel: u32, total: vec2f) {
  let C = params.channels;
  let mean = stats[channel];
  let invStd = stats[2u * C + channel];
  let gradBeta = canonical(total.x);
  let gradGamma = canonical(invStd * total.y);
  if (WRITE_DBETA) {
    var value = gradBeta;
    if (ACCUMULATE) {
      value = dbeta[channel] + value;
    }
    dbeta[channel] = value;
  }
  if (WRITE_DGAMMA) {
    var value = gradGamma;
    if (ACCUMULATE) {
      value = dgamma[channel] + value;
    }
    dgamma[channel] = value;
  }
  let k = gamma[channel] * invStd;
  var c = 0.0;
  var m = 0.0;
  if (TRAIN) {
    let kOverCount = k * params.invCount;
    c = -kOverCount * gradBeta;
    m = -kOverCount * invStd * gradGamma;
  }
  coefficients[channel] = k;
  coefficients[C + channel] = c;
  coefficients[2u * C + channel] = m;
  coefficients[3u * C + channel] = mean;
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backwardFinalizeTree(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let channel = workgroup.x + workgroup.y * workgroups.x;
  // Whole workgroups leave together, so the barriers below stay in uniform control flow.
  if (channel >= params.channels) {
    return;
  }
  var folded = vec2f(0.0);
  for (var k = local; k < params.chunks; k += WORKGROUP_SIZE) {
    folded += partials[k * params.channels + channel];
  }
  summed[local] = folded;
  workgroupBarrier();
  for (var width = WORKGROUP_SIZE / 2u; width > 0u; width /= 2u) {
    if (local < width) {
      summed[local] += summed[local + width];
    }
    workgroupBarrier();
  }
  if (local == 0u) {
    writeChannel(channel, summed[0]);
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn backwardFinalizeSerial(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let channel = (workgroup.x + workgroup.y * workgroups.x) * WORKGROUP_SIZE + local;
  if (channel >= params.channels) {
    return;
  }
  var folded = vec2f(0.0);
  for (var k = 0u; k < params.chunks; k += 1u) {
    folded += partials[k * params.channels + channel];
  }
  writeChannel(channel, folded);
}
