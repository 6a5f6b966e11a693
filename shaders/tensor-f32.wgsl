// How the kernels store the tensors (x, y, dy, dx and a residual's z, dz): float32, the default.
// A kernel declares its tensor bindings as array<tensor> / array<tensor4> and reads and writes
// them only through fromTensor… / toTensor…, so the same kernel text serves every storage type
// (tensor-f16.wgsl is the other one); all arithmetic is float32 either way. Here every helper is
// the identity: the float32 kernels compute exactly what they would with f32 bindings.

alias tensor = f32;
alias tensor4 = vec4f;

fn fromTensor(v: tensor) -> f32 {
  return v;
}

fn fromTensor4(v: tensor4) -> vec4f {
  return v;
}

fn toTensor(v: f32) -> tensor {
  return v;
}

fn toTensor4(v: vec4f) -> tensor4 {
  return v;
}
