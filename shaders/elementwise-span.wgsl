// #expects WORKGROUP_SIZE params.threads params.stride params.segment params.units params.base
// #expects params.inner params.channels params.firstRun RUNS
// The walk shared by the elementwise kernels (apply.wgsl, backward-apply.wgsl), put in front of
// each of them (shader-sources.ts): which units a thread writes, all of one channel. It reads the
// kernel's `params` (units, base, channels, inner, stride, segment, firstRun, threads) and WORKGROUP_SIZE;
// apply.wgsl explains the two ways of walking (by period, by runs; RUNS).

// The units of one thread, in slab indices: first, first + stride, … < end, all of one channel.
struct Span {
  first: u32,
  end: u32,
  channel: u32,
}

fn spanOf(workgroup: vec3u, workgroups: vec3u, local: u32) -> Span {
  let t = (workgroup.x + workgroup.y * workgroups.x) * WORKGROUP_SIZE + local;
  if (t >= params.threads) {
    return Span(0u, 0u, 0u);
  }
  if (!RUNS) {
    let start = t / params.stride * params.segment;
    let end = min(start + params.segment, params.units);
    let first = min(start + t % params.stride, end);
    return Span(first, end, ((params.base + first) / params.inner) % params.channels);
  }
  let run = params.firstRun + t / params.stride;
  let runStart = run * params.inner;
  var first = runStart + t % params.stride;
  if (first < params.base) {
    // The slab starts inside this run: the lane's first unit at or after it.
    first += (params.base - first + params.stride - 1u) / params.stride * params.stride;
  }
  let end = min(runStart + params.inner, params.base + params.units);
  return Span(min(first, end) - params.base, end - params.base, run % params.channels);
}
