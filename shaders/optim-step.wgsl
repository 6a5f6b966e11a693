// Advances the step counts of the parameters that share one counter buffer (up to WORKGROUP_SIZE
// of them), after their updates in the same compute pass. The binding covers exactly the counters
// in use, so arrayLength(&steps) is their number and a parameter added later starts at 0.

override WORKGROUP_SIZE: u32;

@group(0) @binding(0) var<storage, read_write> steps: array<u32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn advanceSteps(@builtin(local_invocation_index) local: u32) {
  if (local < arrayLength(&steps)) {
    steps[local] += 1u;
  }
}
