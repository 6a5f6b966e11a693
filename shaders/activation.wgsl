// The relu rules, shared by every kernel that applies relu or masks a gradient with it (put in
// front of them, shader-sources.ts). Both are decided on the bits of a value, by integer
// comparisons: WGSL lets an implementation assume that no value is NaN or ±Inf, so a float
// comparison such as `v < 0.0` or `y <= 0.0` has no defined result for them, and an implementation
// compiled with fast math may fold it either way.
//
// Sign-magnitude layout of f32: +0 = 0x00000000, +denormals and +finite values up to
// +Inf = 0x7f800000, +NaN above it; −0 = 0x80000000, negatives up to −Inf = 0xff800000, −NaN above.

// relu: a negative non-NaN value (−0 and −Inf included) becomes +0; NaN stays NaN (as torch.relu),
// positive values and +0 are kept. The result's bits are either v's or 0, never rounded.
fn relu(v: f32) -> f32 {
  let bits = bitcast<u32>(v);
  // bits − 0x80000000 wraps non-negative values (and +NaN) above 0x7fffffff; for negative ones it
  // is the magnitude, ≤ 0x7f800000 unless NaN.
  return bitcast<f32>(select(bits, 0u, bits - 0x80000000u <= 0x7f800000u));
}

fn relu4(v: vec4f) -> vec4f {
  let bits = bitcast<vec4u>(v);
  return bitcast<vec4f>(select(bits, vec4u(0u), bits - vec4u(0x80000000u) <= vec4u(0x7f800000u)));
}

// Whether the gradient of relu passes at the forward output y: y > 0, i.e. y is +denormal, +finite
// or +Inf; false for ±0, negatives and NaN. The backward kernels decide the mask from the y the
// forward stored, never from a recomputed pre-activation, so the mask equals the forward's output
// on every implementation, however it rounds or contracts fma.
// (bits − 1 wraps +0 to 0xffffffff; +denormal … +Inf map to 0 … 0x7f7fffff.)
fn reluPasses(y: f32) -> bool {
  return bitcast<u32>(y) - 1u < 0x7f800000u;
}

fn reluPasses4(y: vec4f) -> vec4<bool> {
  return bitcast<vec4u>(y) - vec4u(1u) < vec4u(0x7f800000u);
}

// dy where the gradient passes (reluPasses(y)), +0 elsewhere.
fn reluGradient(dy: f32, y: f32) -> f32 {
  return select(0.0, dy, reluPasses(y));
}

fn reluGradient4(dy: vec4f, y: vec4f) -> vec4f {
  return select(vec4f(0.0), dy, reluPasses4(y));
}
