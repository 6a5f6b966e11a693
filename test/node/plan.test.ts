import { describe, expect, it } from 'vitest';
import { planBackwardReduce } from '../../src/gpu/backward-plan';
import { CONTIGUOUS_MIN_RUN, elementwiseShape, planElementwiseRange } from '../../src/gpu/elementwise-plan';
import { foldWorkgroups } from '../../src/gpu/slabs';
import { LOADS_PER_THREAD, planStats } from '../../src/gpu/statistics-plan';
import { shaders } from '../../src/gpu/shader-sources';
import { defaultTuning, resolveTuning, softwareAdapterTuning } from '../../src/gpu/tuning';
import { packParams, paramsLayout } from '../../src/gpu/uniforms';
import { channelView } from '../../src/layout';

describe('launch planning', () => {
  it('folds dispatches above the per-dimension limit into a 2-D grid that covers them', () => {
    expect(foldWorkgroups(10, 65535)).toEqual([10, 1]);
    for (const n of [65536, 70001, 65535 * 3 + 1, 4_000_000]) {
      const [x, y] = foldWorkgroups(n, 65535);
      expect(x).toBeLessThanOrEqual(65535);
      expect(y).toBeLessThanOrEqual(65535);
      expect(x * y).toBeGreaterThanOrEqual(n);
      expect(x * (y - 1)).toBeLessThan(n);
    }
  });

  it('picks the vec4 entry points exactly when the layout allows them', () => {
    const max = 65535;
    expect(elementwiseShape(channelView([8, 12], 'NC')).variant).toBe('Vec4Channels');
    expect(elementwiseShape(channelView([8, 7], 'NC')).variant).toBe('Scalar');
    expect(elementwiseShape(channelView([2, 3, 4, 4], 'NCHW')).variant).toBe('Vec4Run');
    expect(elementwiseShape(channelView([2, 3, 5, 3], 'NCHW')).variant).toBe('Scalar');
    expect(planStats(channelView([64, 8], 'NC'), defaultTuning, max).launch.entryPoint).toBe('statsRowsVec4');
    expect(planStats(channelView([64, 5, 8], 'NCL'), defaultTuning, max).launch.entryPoint).toBe('statsRunsVec4');
    expect(planStats(channelView([64, 5, 7], 'NCL'), defaultTuning, max).launch.entryPoint).toBe('statsRunsScalar');
  });

  it('gives every statistics thread at least one row and covers every value', () => {
    for (const shape of [[2, 1], [3, 7], [100000, 3], [17, 4096]]) {
      const plan = planStats(channelView(shape, 'NC'), defaultTuning, 65535);
      expect(plan.chunks).toBeGreaterThanOrEqual(1);
      expect(plan.chunks).toBeLessThanOrEqual(shape[0]);
    }
    // Blocks of rows: every lane gets at least one row, and together they cover every row.
    for (const shape of [[2, 1], [5, 4], [10, 3], [100000, 3], [17, 4096], [1000, 12]]) {
      for (const tuning of [{ ...defaultTuning, blockedRows: true }, { ...defaultTuning, ...softwareAdapterTuning }]) {
        const { params: p } = planStats(channelView(shape, 'NC'), tuning, 65535).launch;
        expect(p.laneRows).toBeGreaterThan(0);
        expect((p.rowLanes - 1) * p.laneRows).toBeLessThan(p.rows);
        expect(p.rowLanes * p.laneRows).toBeGreaterThanOrEqual(p.rows);
      }
    }
    const runs = planStats(channelView([3, 2, 1000], 'NCL'), defaultTuning, 65535);
    const p = runs.launch.params;
    expect(p.chunkLength * p.chunks).toBeGreaterThanOrEqual(p.valuesPerChannel);
    expect(p.chunkLength * (p.chunks - 1)).toBeLessThan(p.valuesPerChannel);
  });

  it('gives GPUs workgroups of 256 and threads for ~2 MB of loads in flight, derived from the tensor', () => {
    expect(defaultTuning.workgroupSize).toBe(256);
    const inFlight = defaultTuning.statsBytesInFlight;
    expect(inFlight).toBe(2 * 1024 * 1024);
    // [shape, layout, bytes per load]: a large tensor fills the target, whatever its channels.
    for (const [shape, layout, loadBytes] of [
      [[1 << 20, 4], 'NC', 16],
      [[1 << 20, 3], 'NC', 4],
      [[64, 32, 32, 64], 'NHWC', 16],
      [[64, 64, 32, 32], 'NCHW', 16],
      [[1024, 3, 31, 33], 'NCHW', 4],
    ] as const) {
      const view = channelView([...shape], layout);
      for (const plan of [planStats(view, defaultTuning, 65535).launch, planBackwardReduce(view, defaultTuning, 65535).launch]) {
        const p = plan.params;
        const threads = p.threads > 0 ? p.threads : p.workgroupCount * defaultTuning.workgroupSize;
        expect(threads * LOADS_PER_THREAD * loadBytes).toBeGreaterThanOrEqual(inFlight);
        expect(threads * LOADS_PER_THREAD * loadBytes).toBeLessThan(4 * inFlight);
      }
    }
    // A small tensor: as many threads as it has runs of statsMinValuesPerThread values, no more.
    const small = planStats(channelView([64, 8], 'NC'), defaultTuning, 65535).launch.params;
    expect(small.rowLanes).toBe(64 / defaultTuning.statsMinValuesPerThread);
  });

  it('keeps the software adapters\' plans (fixed thread counts, workgroups of 64)', () => {
    const software = resolveTuning(undefined, 256, softwareAdapterTuning);
    expect(software.workgroupSize).toBe(64);
    expect(software.statsBytesInFlight).toBe(0);
    // NC [8192, 128]: 32 channel groups, min(8192 / 256, 2048 / 32) = 32 lanes of 256 rows each.
    expect(planStats(channelView([8192, 128], 'NC'), software, 65535).launch.params).toMatchObject({ groups: 32, rowLanes: 32, laneRows: 256, threads: 1024 });
    expect(planStats(channelView([32, 32, 32, 32], 'NCHW'), software, 65535).launch.entryPoint).toBe('statsRunsSegmentsVec4');
  });
});

/**
 * The walk of apply.wgsl's spanOf, in TypeScript: which units each thread writes and with which
 * channel. The GPU tests check the kernels themselves; this checks the plans feed them spans that
 * cover every unit once with its own channel, for both ways of walking and slabs that start and end
 * inside runs.
 */
function walk(shape: ReturnType<typeof elementwiseShape>, base: number, units: number, perThread: number, contiguousWalk = false): Int32Array {
  // Workgroups of 4 in the contiguous walk: its threads are shortened to fill CONTIGUOUS_MIN_WORKGROUPS
  // workgroups, and with 4 they still span several runs on these small tensors.
  const tuning = { ...defaultTuning, applyUnitsPerThread: perThread, ...(contiguousWalk ? { contiguousUnitsPerThread: perThread, workgroupSize: 4 } : {}) };
  const { params: p, runs, contiguous } = planElementwiseRange(shape, base, units, tuning, 65535, true);
  const written = new Int32Array(units).fill(-1);
  for (let t = 0; t < p.threads; t++) {
    let first: number;
    let end: number;
    let channel: number;
    if (contiguous) {
      // spanOf, then nextSpan for each further run the thread's range crosses.
      first = t * p.segment;
      const last = Math.min(first + p.segment, p.units);
      const run = Math.floor((p.base + first) / p.inner);
      channel = run % p.channels;
      end = Math.min(last, (run + 1) * p.inner - p.base);
      while (first < end) {
        for (let u = first; u < end; u++) {
          expect(written[u]).toBe(-1);
          written[u] = channel;
        }
        [first, end, channel] = [end, Math.min(end + p.inner, last), channel + 1 === p.channels ? 0 : channel + 1];
      }
      continue;
    }
    if (!runs) {
      const start = Math.floor(t / p.stride) * p.segment;
      end = Math.min(start + p.segment, p.units);
      first = Math.min(start + (t % p.stride), end);
      channel = Math.floor((p.base + first) / p.inner) % p.channels;
    } else {
      const run = p.firstRun + Math.floor(t / p.stride);
      const runStart = run * p.inner;
      first = runStart + (t % p.stride);
      if (first < p.base) first += Math.ceil((p.base - first) / p.stride) * p.stride;
      end = Math.min(runStart + p.inner, p.base + p.units);
      [first, end, channel] = [Math.min(first, end) - p.base, end - p.base, run % p.channels];
    }
    for (let u = first; u < end; u += p.stride) {
      expect(written[u]).toBe(-1);
      written[u] = channel;
    }
  }
  return written;
}

describe('elementwise walks', () => {
  it('cover every unit of a range once, each with its own channel, by period and by runs', () => {
    let byRuns = 0;
    let byPeriod = 0;
    for (const [shape, layout] of [[[7, 5], 'NC'], [[3, 12], 'NC'], [[2, 3, 5, 7], 'NCHW'], [[1, 3, 8, 8], 'NCHW'], [[5, 2, 2, 8], 'NHWC'], [[1, 700, 3], 'NCL'], [[9, 4, 10], 'NCL']] as const) {
      const s = elementwiseShape(channelView([...shape], layout));
      for (const perThread of [1, 4, 16]) {
        for (const [base, units] of [[0, s.units], [3, s.units - 3], [0, Math.ceil(s.units / 2)], [Math.floor(s.units / 3), Math.ceil(s.units / 3)]]) {
          if (units < 1) continue;
          const { runs } = planElementwiseRange(s, base, units, { ...defaultTuning, applyUnitsPerThread: perThread }, 65535);
          if (runs) byRuns++;
          else byPeriod++;
          const written = walk(s, base, units, perThread);
          written.forEach((channel, u) => expect(channel).toBe(Math.floor((base + u) / s.inner) % s.channels));
        }
      }
    }
    expect(byRuns).toBeGreaterThan(0);
    expect(byPeriod).toBeGreaterThan(0);
  });

  it('cover every unit once with its channel in the contiguous walk, across runs and slab edges', () => {
    let contiguousPlans = 0;
    // Runs of 64 values and more take it (CONTIGUOUS_MIN_RUN): vec4 runs of 16 and 20 units, scalar
    // runs of 67 values (a prime), one long run per channel; NC and short runs keep their walks.
    for (const [shape, layout] of [[[16, 3, 8, 8], 'NCHW'], [[9, 5, 80], 'NCL'], [[12, 3, 67], 'NCL'], [[1, 2, 1000], 'NCL'], [[7, 5], 'NC'], [[2, 3, 5, 7], 'NCHW']] as const) {
      const s = elementwiseShape(channelView([...shape], layout));
      const long = s.inner * (s.variant === 'Scalar' ? 1 : 4) >= CONTIGUOUS_MIN_RUN;
      for (const perThread of [1, 5, 16, 64, 256]) {
        for (const [base, units] of [[0, s.units], [3, s.units - 3], [0, Math.ceil(s.units / 2)], [Math.floor(s.units / 3), Math.ceil(s.units / 3)]]) {
          if (units < 1) continue;
          const plan = planElementwiseRange(s, base, units, { ...defaultTuning, workgroupSize: 4, contiguousUnitsPerThread: perThread }, 65535, true);
          expect(plan.contiguous).toBe(long);
          if (plan.contiguous) contiguousPlans++;
          const written = walk(s, base, units, perThread, true);
          written.forEach((channel, u) => expect(channel).toBe(Math.floor((base + u) / s.inner) % s.channels));
        }
      }
      // A kernel without the walk (the norms' apply) never gets it.
      expect(planElementwiseRange(s, 0, s.units, { ...defaultTuning, contiguousUnitsPerThread: 16 }, 65535, false).contiguous).toBe(false);
    }
    expect(contiguousPlans).toBeGreaterThan(0);
    // Threads of 256 units where the tensor fills CONTIGUOUS_MIN_WORKGROUPS workgroups with them,
    // shorter ones (here 24 units, across runs of 16) where it would not.
    const software = { ...defaultTuning, workgroupSize: 64, contiguousUnitsPerThread: 256 };
    const large = elementwiseShape(channelView([32, 32, 32, 32], 'NCHW'));
    expect(planElementwiseRange(large, 0, large.units, software, 65535, true).params).toMatchObject({ segment: 256, threads: 1024 });
    const small = elementwiseShape(channelView([16, 3, 8, 8], 'NCHW'));
    expect(planElementwiseRange(small, 0, small.units, { ...software, workgroupSize: 4 }, 65535, true).params).toMatchObject({ segment: 24, threads: 32 });
  });
});

describe('uniform layouts read from the WGSL', () => {
  it('finds every Params field of every shader, in order', () => {
    expect(paramsLayout(shaders.finalize).fields.map((f) => f.name)).toEqual(['channels', 'chunks', 'eps', 'keep', 'take', 'varianceFactor', 'nan']);
    for (const shader of Object.values(shaders)) {
      if (/struct\s+Params/.test(shader.code)) expect(paramsLayout(shader).byteLength % 16).toBe(0);
    }
  });

  it('packs by name and refuses missing, unknown or out-of-range fields', () => {
    const bytes = packParams(shaders.inferenceFold, { channels: 3, eps: 0.5 });
    expect(new Uint32Array(bytes)[0]).toBe(3);
    expect(new Float32Array(bytes)[1]).toBe(0.5);
    expect(() => packParams(shaders.inferenceFold, { channels: 3 })).toThrow(/eps/);
    expect(() => packParams(shaders.inferenceFold, { channels: 3, eps: 1, extra: 1 })).toThrow(/extra/);
    expect(() => packParams(shaders.inferenceFold, { channels: -1, eps: 1 })).toThrow(/u32/);
  });
});
