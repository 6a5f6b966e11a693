/**
 * NaN and ±Inf on the GPU: every scenario of test/support/non-finite.ts through the GPU engine and
 * the CPU engine; the results must follow the README's rules and agree class for class. And
 * checkFinite on the GPU engine: refused before any GPU work.
 */
import { BatchNormError, createBatchNorm, type BatchNorm } from '../../../src/index';
import { cleanX, compareOutputs, ruleViolations, runScenario, savedOptions, scenarioInputs, scenarios } from '../../support/non-finite';

export interface NonFiniteReport {
  results: { name: string; backend: string; rules: string[]; gpuVsCpu: string[] }[];
  checkFinite: { code: string; submits: number; writes: number };
}

let engines: Promise<[BatchNorm, BatchNorm, BatchNorm]> | undefined;

export async function runNonFiniteCase(arg: { seed: number }): Promise<NonFiniteReport> {
  // The scenarios' small tensors take one dispatch by default; the second GPU engine keeps the
  // three-kernel path (tuning.oneDispatch false), so both follow the rules.
  engines ??= Promise.all([createBatchNorm({ backend: 'webgpu' }), createBatchNorm({ backend: 'webgpu', tuning: { oneDispatch: false } }), createBatchNorm({ backend: 'cpu' })]);
  const [gpu, threeKernels, cpu] = await engines;
  const results: NonFiniteReport['results'] = [];
  for (const s of scenarios()) {
    const inputs = scenarioInputs(arg.seed, s);
    // Both paths normalize a training backward with the same (CPU) statistics of the clean data.
    const saved = await cpu.forwardTrain(cleanX(s, inputs), savedOptions(s));
    const onCpu = await runScenario(cpu, s, inputs, saved);
    for (const [engine, path] of [[gpu, ''], [threeKernels, ' (three kernels)']] as const) {
      const onGpu = await runScenario(engine, s, inputs, saved);
      results.push({ name: `${s.name}${path}`, backend: engine.backend, rules: ruleViolations(s, inputs, onGpu), gpuVsCpu: compareOutputs(onGpu, onCpu) });
    }
  }

  const checked = await createBatchNorm({ backend: 'webgpu', checkFinite: true });
  const device = checked.gpu!.device;
  const counts = { submits: 0, writes: 0 };
  const submit = device.queue.submit.bind(device.queue);
  const writeBuffer = device.queue.writeBuffer.bind(device.queue);
  device.queue.submit = (buffers) => {
    counts.submits++;
    submit(buffers);
  };
  device.queue.writeBuffer = ((...args: Parameters<GPUQueue['writeBuffer']>) => {
    counts.writes++;
    writeBuffer(...args);
  }) as GPUQueue['writeBuffer'];
  const x = Float32Array.from({ length: 24 }, (_, i) => (i === 13 ? Infinity : i));
  let code = 'accepted';
  try {
    await checked.forwardTrain(x, { shape: [6, 4] });
  } catch (error) {
    code = error instanceof BatchNormError ? error.code : String(error);
  }
  checked.dispose();
  return { results, checkFinite: { code, ...counts } };
}
