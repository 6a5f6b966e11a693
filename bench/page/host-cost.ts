/**
 * JavaScript time per call of the GPU-resident API on a warm shape: what a training loop pays on
 * the CPU for each encodeForwardTrain / encodeBackward / encodeForwardInference it records, apart
 * from the GPU work. Every buffer is the caller's (stats included) and stays the same from call to
 * call, as in a training loop; a warm-up makes the engine's caches (pipelines, uniforms, bindings)
 * hit. Timed: `calls` encode calls into one command encoder, on the wall clock (batches long enough
 * for the browser's coarse timer); each batch is then submitted and waited for, untimed, so that
 * the GPU work never piles up. The fastest batch is reported.
 */
import type { GpuBatchNorm, Layout } from '../../src/index';
import type { HostMicros, HostMicrosRow } from '../lib/types';

const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;

/** The demo model's first layer, and a small CNN activation in channels-last. */
const shapes: { layout: Layout; shape: number[] }[] = [
  { layout: 'NC', shape: [32, 128] },
  { layout: 'NHWC', shape: [32, 8, 8, 64] },
];

const WARMUP = 200;
const CALLS = 500;
const BATCHES = 15;

function channelsOf(layout: Layout, shape: number[]): number {
  return layout === 'NC' || layout === 'NCHW' ? shape[1] : shape[shape.length - 1];
}

async function microsPerCall(device: GPUDevice, label: string, encode: (encoder: GPUCommandEncoder) => void): Promise<number> {
  const run = async (calls: number): Promise<number> => {
    const encoder = device.createCommandEncoder({ label: `bench.hostCost.${label}` });
    const start = performance.now();
    for (let i = 0; i < calls; i++) encode(encoder);
    const elapsed = performance.now() - start;
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
    return (elapsed * 1000) / calls;
  };
  await run(WARMUP);
  const samples: number[] = [];
  for (let b = 0; b < BATCHES; b++) samples.push(await run(CALLS));
  // The fastest batch: other work on the machine (GC, other processes) only ever adds time.
  return Math.min(...samples);
}

export async function measureHostMicros(gpu: GpuBatchNorm): Promise<HostMicros> {
  const device = gpu.device;
  const rows: HostMicrosRow[] = [];
  for (const { layout, shape } of shapes) {
    const C = channelsOf(layout, shape);
    const n = shape.reduce((a, b) => a * b, 1);
    const made: GPUBuffer[] = [];
    const buffer = (name: string, values: number, fill = 0) => {
      const b = device.createBuffer({ label: `bench.hostCost.${name}`, size: values * 4, usage: STORAGE, mappedAtCreation: true });
      new Float32Array(b.getMappedRange()).fill(fill);
      b.unmap();
      made.push(b);
      return b;
    };
    const [x, y, dy, dx] = ['x', 'y', 'dy', 'dx'].map((name) => buffer(name, n, 0.5));
    const gamma = buffer('gamma', C, 1);
    const beta = buffer('beta', C);
    const runningMean = buffer('runningMean', C);
    const runningVar = buffer('runningVar', C, 1);
    const dgamma = buffer('dgamma', C);
    const dbeta = buffer('dbeta', C);
    const stats = gpu.createStatsBuffer(C, 'bench.hostCost.stats');
    made.push(stats);
    try {
      const common = { shape, layout, gamma, beta, runningMean, runningVar, stats };
      const forwardTrain = await microsPerCall(device, 'forwardTrain', (e) => gpu.encodeForwardTrain(e, { ...common, x, y }));
      const backward = await microsPerCall(device, 'backward', (e) => gpu.encodeBackward(e, { shape, layout, dy, x, dx, stats, gamma, dgamma, dbeta }));
      const inference = await microsPerCall(device, 'inference', (e) => gpu.encodeForwardInference(e, { ...common, x, y }));
      await gpu.checkErrors();
      rows.push({ layout, shape, forwardTrain, backward, inference });
    } finally {
      for (const b of made) b.destroy();
    }
  }
  return {
    rows,
    calls: CALLS,
    batches: BATCHES,
    timed: `JavaScript time of ${CALLS} encode calls into one command encoder (same buffers every call, after ${WARMUP} warm-up calls), per call, fastest of ${BATCHES} batches; GPU work excluded`,
  };
}
