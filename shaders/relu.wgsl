// The forward activation, shared by apply.wgsl and fused-small-forward.wgsl (shader-sources.ts puts
// it in front of each); the including kernel declares `override RELU: bool`.

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
