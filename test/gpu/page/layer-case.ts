/**
 * The BatchNorm layer on the GPU: running statistics over several training steps against a float64
 * sequence, PyTorch's cumulative average (momentum null), eval mode, and state dict round trips.
 */
import { BatchNormLayer, createBatchNorm, type Convention } from '../../../src/index';
import { maxErrors } from '../../support/compare';
import { createRng, normals } from '../../support/random';
import { referenceForwardInference, referenceForwardTrain } from '../../support/reference';
import { readBuffer, storageBuffer } from './gpu-buffers';

const shape = [6, 4, 5, 3];
const C = 4;
const size = 6 * 4 * 5 * 3;

export interface RunningStatsReport {
  steps: { step: number; meanErr: number; varErr: number }[];
  numBatchesTracked: number;
}

/** Five training forwards on fresh batches; the running statistics are compared after each. */
export async function runLayerRunningStats(arg: { seed: number; convention: Convention; momentum: number | null }): Promise<RunningStatsReport> {
  const rng = createRng(arg.seed);
  const bn = await createBatchNorm({ backend: 'webgpu' });
  const device = bn.gpu!.device;
  const layer = new BatchNormLayer(bn.gpu!, { numFeatures: C, layout: 'NCHW', convention: arg.convention, momentum: arg.momentum });
  let rm: ArrayLike<number> = new Float64Array(C);
  let rv: ArrayLike<number> = new Float64Array(C).fill(1);
  const steps: RunningStatsReport['steps'] = [];
  const y = storageBuffer(device, 'y', new Float32Array(size));
  for (let step = 1; step <= 5; step++) {
    const x = normals(rng, size, 3 * rng.normal(), 1 + rng.uniform());
    const xBuffer = storageBuffer(device, 'x', x);
    const encoder = device.createCommandEncoder({ label: 'test.layer.step' });
    layer.forward(encoder, xBuffer, y, shape);
    device.queue.submit([encoder.finish()]);
    const momentum = arg.momentum ?? 1 / step;
    const ref = referenceForwardTrain(x, { shape, layout: 'NCHW', eps: layer.options.eps, momentum, convention: arg.convention, activation: 'none', runningMean: rm, runningVar: rv });
    rm = ref.runningMean!;
    rv = ref.runningVar!;
    const gpuMean = await readBuffer(device, layer.runningMean!, C);
    const gpuVar = await readBuffer(device, layer.runningVar!, C);
    steps.push({ step, meanErr: maxErrors(gpuMean, rm).maxAbs, varErr: maxErrors(gpuVar, rv).maxRel });
    xBuffer.destroy();
  }
  const report = { steps, numBatchesTracked: layer.numBatchesTracked };
  layer.destroy();
  y.destroy();
  bn.dispose();
  return report;
}

export interface StateReport {
  roundTripExact: boolean;
  kerasNames: string[];
  evalMatchesReference: number;
  restoredEvalIdentical: boolean;
  trainedAfterImportIdentical: boolean;
}

/** State export → import round-trips exactly, and a restored layer computes exactly the same. */
export async function runLayerState(arg: { seed: number }): Promise<StateReport> {
  const rng = createRng(arg.seed);
  const bn = await createBatchNorm({ backend: 'webgpu' });
  const kernels = bn.gpu!;
  const device = kernels.device;
  const layer = new BatchNormLayer(kernels, { numFeatures: C, layout: 'NCHW', activation: 'relu' });
  const state = {
    weight: normals(rng, C, 1, 0.3),
    bias: normals(rng, C, 0, 0.3),
    running_mean: normals(rng, C, 0, 1),
    running_var: Float32Array.from(normals(rng, C, 0, 1), (v) => 0.5 + v * v),
    num_batches_tracked: 7,
  };
  layer.loadStateDict(state);
  const exported = await layer.stateDict();
  const same = (a?: Float32Array, b?: Float32Array) => !!a && !!b && a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
  const roundTripExact =
    same(exported.weight, state.weight) && same(exported.bias, state.bias) && same(exported.running_mean, state.running_mean) &&
    same(exported.running_var, state.running_var) && exported.num_batches_tracked === 7;
  const keras = await layer.kerasWeights();

  // Eval mode uses the running statistics.
  const x = normals(rng, size, 0.5, 2);
  const xBuffer = storageBuffer(device, 'x', x);
  const y = storageBuffer(device, 'y', new Float32Array(size).fill(NaN));
  layer.eval();
  let encoder = device.createCommandEncoder();
  layer.forward(encoder, xBuffer, y, shape);
  device.queue.submit([encoder.finish()]);
  const yEval = await readBuffer(device, y, size);
  const ref = referenceForwardInference(x, { shape, layout: 'NCHW', gamma: state.weight, beta: state.bias, eps: 1e-5, momentum: 0.1, convention: 'pytorch', activation: 'relu', runningMean: state.running_mean, runningVar: state.running_var });

  // A second layer restored from the first one's state computes bit-identical outputs.
  const restored = new BatchNormLayer(kernels, { numFeatures: C, layout: 'NCHW', activation: 'relu' });
  restored.loadStateDict(exported);
  restored.eval();
  const y2 = storageBuffer(device, 'y2', new Float32Array(size).fill(NaN));
  encoder = device.createCommandEncoder();
  restored.forward(encoder, xBuffer, y2, shape);
  device.queue.submit([encoder.finish()]);
  const yRestored = await readBuffer(device, y2, size);

  // Both train one step the same way afterwards.
  layer.train();
  restored.train();
  encoder = device.createCommandEncoder();
  layer.forward(encoder, xBuffer, y, shape);
  restored.forward(encoder, xBuffer, y2, shape);
  device.queue.submit([encoder.finish()]);
  const [a, b] = [await layer.stateDict(), await restored.stateDict()];
  const trainedAfterImportIdentical = same(a.running_mean, b.running_mean) && same(a.running_var, b.running_var) && a.num_batches_tracked === 8 && b.num_batches_tracked === 8;

  for (const buffer of [xBuffer, y, y2]) buffer.destroy();
  layer.destroy();
  restored.destroy();
  bn.dispose();
  return {
    roundTripExact,
    kerasNames: Object.keys(keras),
    evalMatchesReference: maxErrors(yEval, ref).maxAbs,
    restoredEvalIdentical: same(yEval, yRestored),
    trainedAfterImportIdentical,
  };
}

export interface LayerResidualReport {
  /** Per mode: whether the layer's outputs have exactly the bits of the host-array calls' outputs. */
  modes: { mode: 'train' | 'eval'; y: boolean; dx: boolean; dz: boolean; weightGrad: boolean; biasGrad: boolean; masked: number; passed: number }[];
}

/**
 * A layer with relu and a residual, in training and in eval mode: forward with { residual }, then
 * backward with { dz }, compared bit for bit with bn.forwardTrain / forwardInference and
 * bn.backward on the same arrays (the same kernels, which the forward and backward cases check
 * against the float64 reference). The relu mask bites and passes somewhere in each mode.
 */
export async function runLayerResidual(arg: { seed: number }): Promise<LayerResidualReport> {
  const rng = createRng(arg.seed);
  const bn = await createBatchNorm({ backend: 'webgpu' });
  const device = bn.gpu!.device;
  const layer = new BatchNormLayer(bn.gpu!, { numFeatures: C, layout: 'NCHW', activation: 'relu', label: 'test.residualLayer' });
  const x = normals(rng, size, 2, 1.5);
  const z = normals(rng, size, 0, 1);
  const dy = normals(rng, size, 0, 1);
  const buffers = {
    x: storageBuffer(device, 'x', x),
    z: storageBuffer(device, 'z', z),
    dy: storageBuffer(device, 'dy', dy),
    y: storageBuffer(device, 'y', new Float32Array(size).fill(NaN)),
    dx: storageBuffer(device, 'dx', new Float32Array(size).fill(NaN)),
    dz: storageBuffer(device, 'dz', new Float32Array(size).fill(NaN)),
  };
  const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
  const modes: LayerResidualReport['modes'] = [];
  const options = { shape, layout: 'NCHW', activation: 'relu', eps: layer.options.eps } as const;
  try {
    for (const mode of ['train', 'eval'] as const) {
      // The running statistics the eval forward will use (before this step changes them).
      const runningMean = await readBuffer(device, layer.runningMean!, C);
      const runningVar = await readBuffer(device, layer.runningVar!, C);
      layer.train(mode === 'train');
      const encoder = device.createCommandEncoder({ label: `test.residualLayer.${mode}` });
      layer.zeroGrad(encoder);
      layer.forward(encoder, buffers.x, buffers.y, shape, { residual: buffers.z });
      layer.backward(encoder, buffers.dy, buffers.dx, { dz: buffers.dz });
      device.queue.submit([encoder.finish()]);
      const got = {
        y: await readBuffer(device, buffers.y, size),
        dx: await readBuffer(device, buffers.dx, size),
        dz: await readBuffer(device, buffers.dz, size),
        weightGrad: await readBuffer(device, layer.weightGrad!, C),
        biasGrad: await readBuffer(device, layer.biasGrad!, C),
      };
      const gamma = new Float32Array(C).fill(1);
      const beta = new Float32Array(C);
      let y: Float32Array;
      let saved: { mean?: Float32Array; invStd?: Float32Array; y: Float32Array };
      if (mode === 'train') {
        const forward = await bn.forwardTrain(x, { ...options, gamma, beta, residual: z });
        y = forward.y;
        saved = forward;
      } else {
        y = await bn.forwardInference(x, { ...options, gamma, beta, runningMean, runningVar, residual: z });
        saved = { y };
      }
      const host = await bn.backward(dy, x, { ...options, gamma, beta, runningMean, runningVar, mode, residual: z }, saved);
      modes.push({
        mode,
        y: same(got.y, y),
        dx: same(got.dx, host.dx),
        dz: same(got.dz, host.dz),
        weightGrad: same(got.weightGrad, host.dgamma),
        biasGrad: same(got.biasGrad, host.dbeta),
        masked: got.y.filter((v) => v === 0).length,
        passed: got.y.filter((v) => v > 0).length,
      });
    }
  } finally {
    layer.destroy();
    for (const buffer of Object.values(buffers)) buffer.destroy();
    bn.dispose();
  }
  return { modes };
}
