/**
 * `npm run check`, page side: runs forward training and inference on the GPU and on the CPU path
 * for a few shapes per layout and reports how closely they agree.
 */
import { createBatchNorm, type Layout } from '../src/index';

interface Agreement {
  layout: Layout;
  shape: number[];
  pass: 'train' | 'inference';
  maxAbsDiff: number;
  maxRelDiff: number;
}

function diffs(a: Float32Array, b: Float32Array): { maxAbsDiff: number; maxRelDiff: number } {
  let maxAbsDiff = 0;
  let maxRelDiff = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    maxAbsDiff = Math.max(maxAbsDiff, d);
    maxRelDiff = Math.max(maxRelDiff, d / Math.max(1, Math.abs(b[i])));
  }
  return { maxAbsDiff, maxRelDiff };
}

const cases: { layout: Layout; shape: number[] }[] = [
  { layout: 'NC', shape: [4096, 64] },
  { layout: 'NHWC', shape: [16, 16, 16, 32] },
  { layout: 'NCHW', shape: [16, 32, 16, 16] },
  { layout: 'NCL', shape: [32, 24, 77] },
];

async function run(): Promise<{ adapter: unknown; backend: string; results: Agreement[] }> {
  const gpu = await createBatchNorm({ backend: 'webgpu' });
  const cpu = await createBatchNorm({ backend: 'cpu' });
  const results: Agreement[] = [];
  let seed = 1;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
  for (const { layout, shape } of cases) {
    const size = shape.reduce((a, b) => a * b, 1);
    const x = Float32Array.from({ length: size }, () => 3 + 2 * random());
    const C = shape[layout.indexOf('C')];
    const opts = {
      shape,
      layout,
      gamma: Float32Array.from({ length: C }, () => 1 + 0.5 * random()),
      beta: Float32Array.from({ length: C }, () => random()),
      runningMean: new Float32Array(C),
      runningVar: new Float32Array(C).fill(1),
      activation: 'relu' as const,
    };
    const [onGpu, onCpu] = [await gpu.forwardTrain(x, opts), await cpu.forwardTrain(x, opts)];
    results.push({ layout, shape, pass: 'train', ...diffs(onGpu.y, onCpu.y) });
    const [infGpu, infCpu] = [await gpu.forwardInference(x, opts), await cpu.forwardInference(x, opts)];
    results.push({ layout, shape, pass: 'inference', ...diffs(infGpu, infCpu) });
  }
  const report = { adapter: gpu.adapter, backend: gpu.backend, results };
  gpu.dispose();
  cpu.dispose();
  return report;
}

declare global {
  interface Window {
    checkResult?: Promise<unknown>;
  }
}
window.checkResult = run();
