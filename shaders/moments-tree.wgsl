// #import moments
// #expects params.channels partials WORKGROUP_SIZE
// The merge of a workgroup per channel, shared by finalize.wgsl (finalizeTree) and
// partials-fold.wgsl (statsFold), put in front of each: the workgroup's threads fold strided
// subsets of the channel's partials [first, end) with Chan's formula (chanMerge, moments.wgsl:
// empty partials are skipped, the NaN flag M2 = −1 spreads), then a tree in workgroup memory merges
// their results. `partials[k · channels + channel]` is the k-th partial of the channel.

var<workgroup> merged: array<vec4f, WORKGROUP_SIZE>;

// Every invocation of the workgroup must call it, in uniform control flow (it has barriers); the
// result is the channel's merged partial, valid in every invocation.
fn mergeMomentsTree(channel: u32, first: u32, end: u32, local: u32) -> vec4f {
  var folded = vec4f(0.0);
  for (var k = first + local; k < end; k += WORKGROUP_SIZE) {
    folded = chanMerge(folded, partials[k * params.channels + channel]);
  }
  merged[local] = folded;
  workgroupBarrier();
  for (var width = WORKGROUP_SIZE / 2u; width > 0u; width /= 2u) {
    if (local < width) {
      merged[local] = chanMerge(merged[local], merged[local + width]);
    }
    workgroupBarrier();
  }
  return merged[0];
}
