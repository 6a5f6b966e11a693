// #expects params.channels sums WORKGROUP_SIZE
// The sum of a workgroup per channel, shared by backward-finalize.wgsl (backwardFinalizeTree) and
// partials-fold.wgsl (sumsFold), put in front of each: the workgroup's threads add strided subsets
// of the channel's partial sums [first, end) (Σ dy, Σ dy · (x − mean)), then a tree in workgroup
// memory adds their results. `sums[k · channels + channel]` is the k-th partial of the channel.

var<workgroup> summed: array<vec2f, WORKGROUP_SIZE>;

// Every invocation of the workgroup must call it, in uniform control flow (it has barriers); the
// result is the channel's total, valid in every invocation.
fn addSumsTree(channel: u32, first: u32, end: u32, local: u32) -> vec2f {
  var folded = vec2f(0.0);
  for (var k = first + local; k < end; k += WORKGROUP_SIZE) {
    folded += sums[k * params.channels + channel];
  }
  summed[local] = folded;
  workgroupBarrier();
  for (var width = WORKGROUP_SIZE / 2u; width > 0u; width /= 2u) {
    if (local < width) {
      summed[local] += summed[local + width];
    }
    workgroupBarrier();
  }
  return summed[0];
}
