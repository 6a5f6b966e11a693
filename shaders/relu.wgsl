// #import activation
// #expects RELU
// The forward activation, shared by apply.wgsl and fused-small-forward.wgsl (shader-sources.ts puts
// it in front of each, after activation.wgsl, whose relu / relu4 decide on the bits of v); the
// including kernel declares `override RELU: bool`.

fn activate(v: f32) -> f32 {
  if (RELU) {
    return relu(v);
  }
  return v;
}

fn activate4(v: vec4f) -> vec4f {
  if (RELU) {
    return relu4(v);
  }
  return v;
}
