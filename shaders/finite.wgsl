// Whether a float32 is finite, from its bits: WGSL lets an implementation assume that no value is
// NaN or ±Inf, so `v == v` or `abs(v) < inf` may be folded to true; the exponent bits cannot.
// Used by the statistics (moments.wgsl, finalize-channel.wgsl) and the gradients
// (backward-channel.wgsl) to flag a channel that read a NaN or ±Inf.
fn isFinite(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u;
}
