// #import grid
// #expects params.chunks params.chunkLength params.valuesPerChannel params.inner params.stepOuter
// #expects params.stepInner params.segmentsPerRun params.skip params.channels params.chunkBase
// #expects params.totalChannels params.channelBase WORKGROUP_SIZE
// The walk shared by the 'Runs' reductions (stats-runs.wgsl, backward-reduce-runs.wgsl), put in
// front of each (shader-sources.ts): their Params, and which units a workgroup (chunks) or a thread
// (segments) reduces. Channel c of a [outer, C, inner] view is stored as runs of `inner` units; unit
// m = o · inner + i of channel c lives at address (o · C + c) · inner + i.

struct Params {
  channels: u32,
  inner: u32,          // values (or vec4s) per run
  valuesPerChannel: u32, // outer · inner, in the same units
  chunkLength: u32,    // L: units per workgroup
  chunks: u32,         // K
  workgroupCount: u32, // C · K
  stepOuter: u32,      // WORKGROUP_SIZE / inner
  stepInner: u32,      // WORKGROUP_SIZE % inner
  // A tensor larger than one binding is reduced in slabs (see slabs.ts), each a dense sub-view
  // [outer', channels, inner] of the whole; these place the slab in the whole.
  skip: u32,           // units bound before the slab's first value (it starts at an aligned address)
  chunkBase: u32,      // index of the slab's first partial row
  channelBase: u32,    // global index of the slab's first channel
  totalChannels: u32,  // C of the whole tensor: the row length of partials (and stats)
  // The Segments entry points (a thread per piece of a run; chunkLength is then the piece length
  // and chunks the pieces per channel, outer · segmentsPerRun):
  segmentsPerRun: u32,
  threads: u32,        // outer · channels · segmentsPerRun
}

struct Chunk {
  channel: u32,
  chunk: u32,
  begin: u32,
  end: u32,
}

// Workgroup w reduces chunk k = w % K of channel w / K: the units m ∈ [k·L, (k+1)·L) of the channel.
fn chunkOf(workgroup: vec3u, workgroups: vec3u) -> Chunk {
  let w = gridWorkgroup(workgroup, workgroups);
  let chunk = w % params.chunks;
  let begin = chunk * params.chunkLength;
  return Chunk(w / params.chunks, chunk, begin, min(begin + params.chunkLength, params.valuesPerChannel));
}

// A workgroup thread's place in its chunk: unit m of the channel as (row o, offset i in the run),
// moved WORKGROUP_SIZE units at a time (stepOuter rows and stepInner units) without a division.
struct RunCursor {
  o: u32,
  i: u32,
}

fn cursorAt(m: u32) -> RunCursor {
  return RunCursor(m / params.inner, m % params.inner);
}

fn stepCursor(at: RunCursor) -> RunCursor {
  var next = RunCursor(at.o + params.stepOuter, at.i + params.stepInner);
  if (next.i >= params.inner) {
    next.i -= params.inner;
    next.o += 1u;
  }
  return next;
}

// Segments (tuning.runSegments): no workgroup sum. Thread t reduces piece t % S of run t / S (runs in
// memory order: run r is channel r % C of row r / C), chunkLength units, and writes its own partial
// as chunk (row · S + piece); the finalize merges the outer · S partials of each channel. Neighbouring
// threads read neighbouring pieces, and there is no barrier, which on a software adapter costs more
// than the reads.
struct Segment {
  channel: u32,
  chunk: u32,
  begin: u32, // addresses [begin, end)
  end: u32,
}

fn segmentOf(t: u32) -> Segment {
  let run = t / params.segmentsPerRun;
  let piece = t % params.segmentsPerRun;
  let start = piece * params.chunkLength;
  let runStart = params.skip + run * params.inner;
  let chunk = (run / params.channels) * params.segmentsPerRun + piece;
  return Segment(run % params.channels, chunk, runStart + start, runStart + min(start + params.chunkLength, params.inner));
}

fn address(channel: u32, at: RunCursor) -> u32 {
  return params.skip + (at.o * params.channels + channel) * params.inner + at.i;
}

// Where the partial of (chunk, slab channel) goes: the slab's rows come after earlier slabs' rows.
fn partialIndex(channel: u32, chunk: u32) -> u32 {
  return (params.chunkBase + chunk) * params.totalChannels + params.channelBase + channel;
}
