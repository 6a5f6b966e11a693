// #import finite
// #expects params.nan params.channels params.invCount
// The last step of the backward pass of one channel, shared by backward-finalize.wgsl and
// fused-small-backward.wgsl (shader-sources.ts puts it in front of each): from the channel's sums
// (Σ dy, Σ dy · (x − mean)) the parameter gradients and the coefficients of dx (x̂ = (x − mean) ·
// invStd, M values per channel):
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
// The including kernel declares `params` with the fields channels, invCount (1 / M) and nan, and
// binds nothing else at bindings 2–5.

// false for frozen (eval-mode) statistics: the batch statistics do not depend on x.
override TRAIN: bool;
override ACCUMULATE: bool;
// false when the caller wants no such gradient: the binding is then a placeholder.
override WRITE_DGAMMA: bool;
override WRITE_DBETA: bool;

// stats = [mean | variance | invStd | scale | shift], C values each (see finalize-channel.wgsl)
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(5) var<storage, read_write> dbeta: array<f32>;

fn canonical(v: f32) -> f32 {
  return select(params.nan, v, isFinite(v));
}

struct ChannelGradients {
  dgamma: f32,
  dbeta: f32,
  k: f32,
  c: f32,
  m: f32,
  mean: f32,
}

// Pure, so every thread of a kernel that needs the coefficients may compute them.
fn channelGradients(channel: u32, total: vec2f) -> ChannelGradients {
  let C = params.channels;
  let mean = stats[channel];
  let invStd = stats[2u * C + channel];
  let gradBeta = canonical(total.x);
  let gradGamma = canonical(invStd * total.y);
  let k = gamma[channel] * invStd;
  var c = 0.0;
  var m = 0.0;
  if (TRAIN) {
    let kOverCount = k * params.invCount;
    c = -kOverCount * gradBeta;
    m = -kOverCount * invStd * gradGamma;
  }
  return ChannelGradients(gradGamma, gradBeta, k, c, m, mean);
}

fn storeGradients(channel: u32, g: ChannelGradients) {
  if (WRITE_DBETA) {
    var value = g.dbeta;
    if (ACCUMULATE) {
      value = dbeta[channel] + value;
    }
    dbeta[channel] = value;
  }
  if (WRITE_DGAMMA) {
    var value = g.dgamma;
    if (ACCUMULATE) {
      value = dgamma[channel] + value;
    }
    dgamma[channel] = value;
  }
}
