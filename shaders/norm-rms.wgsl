// #import finite grid
// RMS norm's row statistic, after the batch-norm statistics kernels (stats-rows / stats-runs,
// finalize) wrote each row's mean and biased variance into stats = [mean | variance | invStd | …]:
//   invStd_r = 1 / sqrt(mean(x²) + eps),  mean(x²) = variance + mean²,
// written over the invStd block. Both terms are ≥ 0, so the sum cancels nothing; the variance came
// from pivoted moments, so it keeps its digits when the mean is large. A row whose statistics are
// not finite (finalize wrote NaN: it read a NaN or ±Inf) keeps them (WGSL cannot spell NaN, and
// arithmetic on it promises nothing).

struct Params {
  rows: u32,
  eps: f32,
}

override WORKGROUP_SIZE: u32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> stats: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn normRmsInvStd(
  @builtin(workgroup_id) workgroup: vec3u,
  @builtin(num_workgroups) workgroups: vec3u,
  @builtin(local_invocation_index) local: u32,
) {
  let row = gridThread(workgroup, workgroups, local);
  if (row >= params.rows) {
    return;
  }
  let mean = stats[row];
  let variance = stats[params.rows + row];
  if (isFinite(mean) && isFinite(variance)) {
    stats[2u * params.rows + row] = 1.0 / sqrt(variance + mean * mean + params.eps);
  }
}
