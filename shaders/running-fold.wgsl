// #expects gamma beta runningMean runningVar stats params.eps
// Inference's per-channel coefficients, folded from the population (running) statistics, shared by
// inference-fold.wgsl (a dispatch of its own, for the eval-mode backward) and apply.wgsl's
// inference entry points (one dispatch: each thread folds the channels it applies, and the grid
// stores every channel's fold once):
//   invStd = 1 / sqrt(running variance + eps), scale = γ · invStd, shift = β − mean · scale,
// into stats = [mean | variance | invStd | scale | shift], the layout finalize.wgsl writes in
// training. The including kernel binds gamma, beta, runningMean, runningVar (read) and stats
// (written), and its params carry eps.

struct Folded {
  mean: f32,
  variance: f32,
  invStd: f32,
  scale: f32,
  shift: f32,
}

fn foldRunning(channel: u32) -> Folded {
  let mean = runningMean[channel];
  let variance = runningVar[channel];
  let invStd = 1.0 / sqrt(variance + params.eps);
  let scale = gamma[channel] * invStd;
  return Folded(mean, variance, invStd, scale, beta[channel] - mean * scale);
}

// Stores channel `channel` of C.
fn storeFolded(channel: u32, C: u32, f: Folded) {
  stats[channel] = f.mean;
  stats[C + channel] = f.variance;
  stats[2u * C + channel] = f.invStd;
  stats[3u * C + channel] = f.scale;
  stats[4u * C + channel] = f.shift;
}
