// Whether a float32 is finite, from its bits: WGSL lets an implementation assume that no value is
// NaN or ±Inf, so `v == v` or `abs(v) < inf` may be folded to true; the exponent bits cannot.
// Used by the statistics (moments.wgsl, finalize-channel.wgsl) and the gradients
// (backward-channel.wgsl, the norm backward's sums) to flag a channel or row that read a NaN or ±Inf.
fn isFinite(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u;
}

// Each component of a sum that is not finite (it met a NaN or ±Inf, or overflowed) as NaN — `nan`,
// a quiet NaN from the host, since WGSL cannot spell one — the rule of the CPU path's sums.
fn finiteOrNaN2(v: vec2f, nan: f32) -> vec2f {
  return select(vec2f(nan), v, vec2<bool>(isFinite(v.x), isFinite(v.y)));
}

fn finiteOrNaN4(v: vec4f, nan: f32) -> vec4f {
  return select(vec4f(nan), v, vec4<bool>(isFinite(v.x), isFinite(v.y), isFinite(v.z), isFinite(v.w)));
}
