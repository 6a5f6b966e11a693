// #import grid
// #expects WORKGROUP_SIZE params.threads params.stride params.segment params.units params.base
// #expects params.inner params.channels params.firstRun RUNS
// The walk shared by the elementwise kernels (apply.wgsl, backward-apply.wgsl), put in front of
// each of them (shader-sources.ts): which units a thread writes, each piece all of one channel. It reads the
// kernel's `params` (units, base, channels, inner, stride, segment, firstRun, threads) and WORKGROUP_SIZE;
// apply.wgsl explains the two ways of walking (by period, by runs; RUNS); the third, CONTIGUOUS, is
// below. A kernel walks spanOf's span, then nextSpan's until one is empty.

// The units of one thread, in slab indices: first, first + step, … < end, all of one channel; a
// thread may have more such pieces after it, up to `last` (nextSpan).
struct Span {
  first: u32,
  end: u32,
  channel: u32,
  step: u32,
  last: u32,
}

// CONTIGUOUS (a third walk, beside by period and by runs; software adapters, long enough runs):
// thread t takes the units [t · segment, (t + 1) · segment) of the slab, one piece per run it
// crosses, each walked with step 1. A CPU adapter runs a workgroup's invocations as SIMD lanes of
// one core: a contiguous run per lane, unrolled, copies 1.6× as fast there as lanes taking
// neighbouring units (the benchmark's floor), and long threads amortise each thread's setup.
override CONTIGUOUS: bool = false;

fn spanOf(workgroup: vec3u, workgroups: vec3u, local: u32) -> Span {
  let t = gridThread(workgroup, workgroups, local);
  if (t >= params.threads) {
    return Span(0u, 0u, 0u, 1u, 0u);
  }
  if (CONTIGUOUS) {
    let first = t * params.segment;
    let last = min(first + params.segment, params.units);
    let run = (params.base + first) / params.inner;
    return Span(first, min(last, (run + 1u) * params.inner - params.base), run % params.channels, 1u, last);
  }
  if (!RUNS) {
    let start = t / params.stride * params.segment;
    let end = min(start + params.segment, params.units);
    let first = min(start + t % params.stride, end);
    return Span(first, end, ((params.base + first) / params.inner) % params.channels, params.stride, end);
  }
  let run = params.firstRun + t / params.stride;
  let runStart = run * params.inner;
  var first = runStart + t % params.stride;
  if (first < params.base) {
    // The slab starts inside this run: the lane's first unit at or after it.
    first += (params.base - first + params.stride - 1u) / params.stride * params.stride;
  }
  let end = min(runStart + params.inner, params.base + params.units);
  return Span(min(first, end) - params.base, end - params.base, run % params.channels, params.stride, end - params.base);
}

// The piece after `span`: the next run, of the next channel (empty when the thread has no more).
fn nextSpan(span: Span) -> Span {
  let channel = select(span.channel + 1u, 0u, span.channel + 1u == params.channels);
  return Span(span.end, min(span.end + params.inner, span.last), channel, span.step, span.last);
}
