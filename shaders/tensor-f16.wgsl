enable f16;
// How the kernels store the tensors (x, y, dy, dx and a residual's z, dz): float16 (the
// `shader-f16` feature), half the bytes of float32. Values are widened to float32 as they are read
// and every sum, statistic, scale and shift stays float32 (see tensor-f32.wgsl for the interface);
// a result is rounded to float16 once, as it is stored. WGSL lets that rounding go to either
// neighbour of the float32 value, and a value beyond float16's range becomes ±Inf or ±65504.

alias tensor = f16;
alias tensor4 = vec4<f16>;

fn fromTensor(v: tensor) -> f32 {
  return f32(v);
}

fn fromTensor4(v: tensor4) -> vec4f {
  return vec4f(v);
}

fn toTensor(v: f32) -> tensor {
  return tensor(v);
}

fn toTensor4(v: vec4f) -> tensor4 {
  return tensor4(v);
}
