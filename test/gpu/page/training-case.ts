/**
 * A real training run on the GPU: a BatchNorm layer learns γ and β so that BN(x) fits a·x̂ + b for
 * known per-channel a, b, with a GPU optimizer, every step recorded into one encoder (forward,
 * loss gradient, backward, optimizer step) and nothing read back until the end. The same run on
 * the CPU path (engine with backend 'cpu' and the CPU optimizer) gives the reference trajectory.
 */
import { BatchNormLayer, createBatchNorm, createCpuOptimizer, createGpuOptimizer, type OptimizerOptions } from '../../../src/index';
import { packParams } from '../../../src/gpu/uniforms';
import { createRng, normals } from '../../support/random';
import { readBuffer, storageBuffer } from './gpu-buffers';
import mseGradSource from './mse-grad.wgsl?raw';

export interface TrainingCase {
  seed: number;
  optimizer: OptimizerOptions;
  steps: number;
  checkpoints: number[];
}

export interface TrainingReport {
  target: { a: number[]; b: number[] };
  gpu: { step: number; gamma: number[]; beta: number[] }[];
  cpu: { step: number; gamma: number[]; beta: number[] }[];
  stepsTaken: number;
}

const shape = [16, 3, 21];
const [N, C, L] = shape;
const M = N * L;

function targets(x: Float32Array, a: number[], b: number[]): Float32Array {
  const t = new Float32Array(x.length);
  for (let c = 0; c < C; c++) {
    let sum = 0;
    for (let n = 0; n < N; n++) for (let l = 0; l < L; l++) sum += x[(n * C + c) * L + l];
    const mean = sum / M;
    let sq = 0;
    for (let n = 0; n < N; n++) for (let l = 0; l < L; l++) sq += (x[(n * C + c) * L + l] - mean) ** 2;
    const invStd = 1 / Math.sqrt(sq / M + 1e-5);
    for (let n = 0; n < N; n++) for (let l = 0; l < L; l++) {
      const i = (n * C + c) * L + l;
      t[i] = a[c] * (x[i] - mean) * invStd + b[c];
    }
  }
  return t;
}

export async function runTrainingCase(spec: TrainingCase): Promise<TrainingReport> {
  const rng = createRng(spec.seed);
  const x = normals(rng, N * C * L, 2, 3);
  const a = Array.from({ length: C }, () => 0.5 + 2 * rng.uniform());
  const b = Array.from({ length: C }, () => 2 * rng.uniform() - 1);
  const t = targets(x, a, b);
  const opts = { shape, layout: 'NCL' as const };

  // GPU run.
  const bn = await createBatchNorm({ backend: 'webgpu' });
  const kernels = bn.gpu!;
  const device = kernels.device;
  const gpuErrors: string[] = [];
  device.addEventListener('uncapturederror', (e) => gpuErrors.push((e as GPUUncapturedErrorEvent).error.message));
  const layer = new BatchNormLayer(kernels, { numFeatures: C, layout: 'NCL' });
  const optimizer = createGpuOptimizer(device, spec.optimizer);
  optimizer.addParam(layer.weight!, layer.weightGrad!, C, 'weight');
  optimizer.addParam(layer.bias!, layer.biasGrad!, C, 'bias');
  const xBuffer = storageBuffer(device, 'x', x);
  const tBuffer = storageBuffer(device, 'target', t);
  const yBuffer = storageBuffer(device, 'y', new Float32Array(x.length));
  const dyBuffer = storageBuffer(device, 'dy', new Float32Array(x.length));
  const dxBuffer = storageBuffer(device, 'dx', new Float32Array(x.length));
  const module = device.createShaderModule({ label: 'test.mseGrad', code: mseGradSource });
  const pipeline = device.createComputePipeline({ label: 'test.mseGrad', layout: 'auto', compute: { module, entryPoint: 'mseGrad' } });
  const uniform = device.createBuffer({ label: 'test.mseGrad.params', size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(uniform, 0, packParams({ name: 'mse-grad', code: mseGradSource }, { count: x.length, scale: 2 / M }));
  const bindGroup = device.createBindGroup({
    label: 'test.mseGrad',
    layout: pipeline.getBindGroupLayout(0),
    entries: [uniform, yBuffer, tBuffer, dyBuffer].map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const gpuTrajectory: TrainingReport['gpu'] = [];
  // A tenfold learning-rate decay for the last 40% of the steps, the same on both paths: adaptive
  // optimizers otherwise oscillate around the optimum by about one step (lr).
  const decayStep = Math.floor(0.6 * spec.steps);
  const lr = optimizer.lr;
  for (let step = 1; step <= spec.steps; step++) {
    if (step === decayStep) optimizer.setLearningRate(lr / 10);
    const encoder = device.createCommandEncoder({ label: `test.train.step${step}` });
    layer.zeroGrad(encoder);
    layer.forward(encoder, xBuffer, yBuffer, shape);
    const pass = encoder.beginComputePass({ label: 'test.mseGrad' });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(Math.ceil(x.length / 64));
    pass.end();
    layer.backward(encoder, dyBuffer, dxBuffer);
    optimizer.encodeStep(encoder);
    device.queue.submit([encoder.finish()]);
    if (spec.checkpoints.includes(step)) {
      gpuTrajectory.push({ step, gamma: [...(await readBuffer(device, layer.weight!, C))], beta: [...(await readBuffer(device, layer.bias!, C))] });
    }
  }
  await device.queue.onSubmittedWorkDone();
  if (gpuErrors.length > 0) throw new Error(`GPU errors during training: ${gpuErrors.slice(0, 3).join('; ')}`);
  optimizer.destroy();
  layer.destroy();
  for (const buffer of [xBuffer, tBuffer, yBuffer, dyBuffer, dxBuffer, uniform]) buffer.destroy();
  bn.dispose();

  // The same run on the CPU path.
  const cpu = await createBatchNorm({ backend: 'cpu' });
  const gamma = new Float32Array(C).fill(1);
  const beta = new Float32Array(C);
  const dgamma = new Float32Array(C);
  const dbeta = new Float32Array(C);
  const cpuOptimizer = createCpuOptimizer(spec.optimizer);
  cpuOptimizer.addParam(gamma, dgamma, 'weight');
  cpuOptimizer.addParam(beta, dbeta, 'bias');
  const cpuTrajectory: TrainingReport['cpu'] = [];
  for (let step = 1; step <= spec.steps; step++) {
    if (step === decayStep) cpuOptimizer.setLearningRate(lr / 10);
    const out = await cpu.forwardTrain(x, { ...opts, gamma, beta });
    const dy = out.y.map((y, i) => (2 / M) * (y - t[i]));
    const grads = await cpu.backward(dy, x, { ...opts, gamma, beta }, out);
    dgamma.set(grads.dgamma);
    dbeta.set(grads.dbeta);
    cpuOptimizer.step();
    if (spec.checkpoints.includes(step)) cpuTrajectory.push({ step, gamma: [...gamma], beta: [...beta] });
  }
  cpu.dispose();
  return { target: { a, b }, gpu: gpuTrajectory, cpu: cpuTrajectory, stepsTaken: spec.steps };
}
