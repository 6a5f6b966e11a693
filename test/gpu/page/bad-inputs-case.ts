/**
 * The catalogue of bad inputs: every entry point (host-array calls, GPU-resident encode… calls,
 * BatchNormLayer, optimizers, TrainingMirror) given something wrong must throw a BatchNormError
 * with its specific code before any GPU work — no buffer, bind group, pipeline or encoder created,
 * nothing written, encoded or submitted — and leave every parameter, running statistic and buffer
 * bit-identical (read back and compared by bits before and after).
 */
import {
  BatchNormError,
  BatchNormLayer,
  createBatchNorm,
  createCpuOptimizer,
  createGpuOptimizer,
  createTrainingMirror,
  type GpuBackwardArgs,
  type GpuForwardArgs,
  type OptimizerState,
} from '../../../src/index';
import { readBuffer, storageBuffer } from './gpu-buffers';

export interface BadInput {
  entry: string;
  what: string;
  code: string;
  /** Device calls made by the rejected call: creations, writes, submits and encoder commands. */
  gpuWork: number;
}

export interface BadInputsReport {
  rejections: BadInput[];
  /** Names of the buffers or values that changed across the catalogue ([] = all bit-identical). */
  changed: string[];
  /** GPU validation errors when the encoder the bad calls were given is finished and submitted. */
  gpuErrors: string[];
  /** Device calls the counters saw for one valid encode… call (must be > 0). */
  controlWork: number;
}

type Work = () => unknown;

/** Counts every call on the device, its queue and an encoder that creates or records GPU work. */
function countCalls(device: GPUDevice, encoder: GPUCommandEncoder): { total: () => number } {
  let calls = 0;
  const wrap = <T extends object>(target: T, names: string[]) => {
    for (const name of names) {
      const original = (target as Record<string, unknown>)[name] as (...args: unknown[]) => unknown;
      (target as Record<string, unknown>)[name] = (...args: unknown[]) => {
        calls++;
        return original.apply(target, args);
      };
    }
  };
  wrap(device, ['createBuffer', 'createBindGroup', 'createComputePipeline', 'createShaderModule', 'createCommandEncoder', 'createBindGroupLayout', 'pushErrorScope']);
  wrap(device.queue, ['submit', 'writeBuffer']);
  wrap(encoder, ['beginComputePass', 'copyBufferToBuffer', 'clearBuffer']);
  return { total: () => calls };
}

function bitsDiffer(a: Float32Array, b: Float32Array): boolean {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return x.length !== y.length || x.some((v, i) => v !== y[i]);
}

export async function runBadInputsCase(): Promise<BadInputsReport> {
  const bn = await createBatchNorm({ backend: 'webgpu' });
  const kernels = bn.gpu!;
  const device = kernels.device;
  const C = 4;
  const shape = [6, C];
  const N = 24;
  const host = {
    x: Float32Array.from({ length: N }, (_, i) => Math.cos(i) + i / 10),
    dy: Float32Array.from({ length: N }, (_, i) => Math.sin(i)),
    gamma: Float32Array.of(1, 0.5, 2, -1),
    beta: Float32Array.of(0, 0.1, -0.2, 0.3),
    runningMean: Float32Array.of(0.1, 0.2, 0.3, 0.4),
    runningVar: Float32Array.of(1, 2, 3, 4),
  };
  const saved = await bn.forwardTrain(host.x, { shape });
  const hostArrays = { ...host, 'saved.mean': saved.mean, 'saved.invStd': saved.invStd };
  const hostCopies = Object.fromEntries(Object.entries(hostArrays).map(([k, v]) => [k, v.slice()]));

  // GPU-resident buffers, a layer and optimizers, all set up before counting starts.
  const gpu = {
    x: storageBuffer(device, 'x', host.x),
    y: storageBuffer(device, 'y', new Float32Array(N).fill(7)),
    dy: storageBuffer(device, 'dy', host.dy),
    dx: storageBuffer(device, 'dx', new Float32Array(N).fill(8)),
    stats: storageBuffer(device, 'stats', new Float32Array(5 * C).fill(9)),
    gamma: storageBuffer(device, 'gamma', host.gamma),
    beta: storageBuffer(device, 'beta', host.beta),
    runningMean: storageBuffer(device, 'runningMean', host.runningMean),
    runningVar: storageBuffer(device, 'runningVar', host.runningVar),
    dgamma: storageBuffer(device, 'dgamma', new Float32Array(C).fill(3)),
    dbeta: storageBuffer(device, 'dbeta', new Float32Array(C).fill(4)),
    residual: storageBuffer(device, 'residual', Float32Array.from({ length: N }, (_, i) => i / 7 - 1)),
    dz: storageBuffer(device, 'dz', new Float32Array(N).fill(5)),
  };
  const small = storageBuffer(device, 'small', new Float32Array(N - 4));
  const stats4 = storageBuffer(device, 'stats4', new Float32Array(4 * C));
  const uniformOnly = device.createBuffer({ label: 'test.uniformOnly', size: N * 4, usage: GPUBufferUsage.UNIFORM });
  const foreignParam = storageBuffer(device, 'foreignParam', new Float32Array(C));
  const foreignGrad = storageBuffer(device, 'foreignGrad', new Float32Array(C));
  const layer = new BatchNormLayer(kernels, { numFeatures: C, layout: 'NC', activation: 'relu', label: 'test.layer' });
  const fresh = new BatchNormLayer(kernels, { numFeatures: C, label: 'test.freshLayer' });
  const optimizer = createGpuOptimizer(device, { kind: 'adam', lr: 0.01 });
  optimizer.addParam(layer.weight!, layer.weightGrad!, C, 'weight');
  optimizer.addParam(layer.bias!, layer.biasGrad!, C, 'bias');
  const other = createGpuOptimizer(device, { kind: 'sgd', lr: 0.1 });
  other.addParam(foreignParam, foreignGrad, C, 'foreign');
  // One real training step, so the layer and optimizer hold non-trivial state.
  const setup = device.createCommandEncoder({ label: 'test.badInputs.setup' });
  layer.zeroGrad(setup);
  layer.forward(setup, gpu.x, gpu.y, shape);
  layer.backward(setup, gpu.dy, gpu.dx);
  optimizer.encodeStep(setup);
  device.queue.submit([setup.finish()]);
  const goodState = await optimizer.exportState();

  const watched: Record<string, GPUBuffer> = { ...gpu, 'layer.stats': layer.stats };
  for (const name of ['weight', 'bias', 'weightGrad', 'biasGrad', 'runningMean', 'runningVar'] as const) watched[`layer.${name}`] = layer[name]!;
  const lengthOf = (buffer: GPUBuffer) => buffer.size / 4;
  const readAll = async () => {
    const values: Record<string, Float32Array> = {};
    for (const [name, buffer] of Object.entries(watched)) values[name] = await readBuffer(device, buffer, lengthOf(buffer));
    const state = await optimizer.exportState();
    state.params.forEach((p) => Object.entries(p.buffers).forEach(([k, v]) => (values[`optimizer.${p.label}.${k}`] = v!)));
    values['optimizer.steps'] = Float32Array.from(state.params, (p) => p.step);
    values['layer.numBatchesTracked'] = Float32Array.of(layer.numBatchesTracked);
    values['optimizer.lr'] = Float32Array.of(optimizer.lr);
    return values;
  };
  const before = await readAll();
  const liveBuffersBefore = kernels.liveBuffers;

  const encoder = device.createCommandEncoder({ label: 'test.badInputs' });
  const counter = countCalls(device, encoder);
  const fwd: GpuForwardArgs = { shape, layout: 'NC', x: gpu.x, y: gpu.y, stats: gpu.stats, gamma: gpu.gamma, beta: gpu.beta, runningMean: gpu.runningMean, runningVar: gpu.runningVar };
  const bwd: GpuBackwardArgs = { shape, layout: 'NC', dy: gpu.dy, x: gpu.x, dx: gpu.dx, stats: gpu.stats, gamma: gpu.gamma, dgamma: gpu.dgamma, dbeta: gpu.dbeta };
  const opts = { shape, gamma: host.gamma, beta: host.beta };
  const running = { runningMean: host.runningMean, runningVar: host.runningVar };
  const badState: OptimizerState = { ...goodState, params: goodState.params.map((p, i) => (i === 1 ? { ...p, length: C + 1 } : p)) };

  const catalogue: [entry: string, what: string, work: Work][] = [
    ['forwardTrain', 'NaN in shape', () => bn.forwardTrain(host.x, { ...opts, shape: [6, NaN] })],
    ['forwardTrain', 'zero dimension', () => bn.forwardTrain(host.x, { ...opts, shape: [0, C] })],
    ['forwardTrain', 'fractional dimension', () => bn.forwardTrain(host.x, { ...opts, shape: [2.5, C] })],
    ['forwardTrain', 'shape is a string', () => bn.forwardTrain(host.x, { ...opts, shape: '6,4' as never })],
    ['forwardTrain', "layout 'nchw' (lower case)", () => bn.forwardTrain(host.x, { ...opts, layout: 'nchw' as never })],
    ['forwardTrain', 'layout of another rank', () => bn.forwardTrain(host.x, { ...opts, layout: 'NCHW' })],
    ['forwardTrain', 'x is a Float64Array', () => bn.forwardTrain(Float64Array.from(host.x) as never, opts)],
    ['forwardTrain', 'x one value short', () => bn.forwardTrain(host.x.subarray(1), opts)],
    ['forwardTrain', 'gamma of C + 1 values', () => bn.forwardTrain(host.x, { ...opts, gamma: new Float32Array(C + 1) })],
    ['forwardTrain', 'beta is an array of strings', () => bn.forwardTrain(host.x, { ...opts, beta: ['0', '0', '0', '0'] as never })],
    ['forwardTrain', 'runningMean without runningVar', () => bn.forwardTrain(host.x, { ...opts, runningMean: host.runningMean })],
    ['forwardTrain', 'eps −1e-5', () => bn.forwardTrain(host.x, { ...opts, eps: -1e-5 })],
    ['forwardTrain', 'eps NaN', () => bn.forwardTrain(host.x, { ...opts, eps: NaN })],
    ['forwardTrain', 'eps 1e39 (Infinity as a float32)', () => bn.forwardTrain(host.x, { ...opts, eps: 1e39 })],
    ['forwardTrain', 'momentum 1.5', () => bn.forwardTrain(host.x, { ...opts, ...running, momentum: 1.5 })],
    ['forwardTrain', "momentum '0.1' (a string)", () => bn.forwardTrain(host.x, { ...opts, ...running, momentum: '0.1' as never })],
    ['forwardTrain', 'one value per channel', () => bn.forwardTrain(host.x.subarray(0, C), { ...opts, shape: [1, C] })],
    ['forwardTrain', "convention 'tf'", () => bn.forwardTrain(host.x, { ...opts, convention: 'tf' as never })],
    ['forwardTrain', "activation 'gelu'", () => bn.forwardTrain(host.x, { ...opts, activation: 'gelu' as never })],
    ['forwardTrain', 'options null', () => bn.forwardTrain(host.x, null as never)],
    ['forwardInference', 'no running statistics', () => bn.forwardInference(host.x, opts)],
    ['forwardTrain', 'residual one value short', () => bn.forwardTrain(host.x, { ...opts, residual: host.dy.subarray(1) })],
    ['forwardInference', 'residual holds a string', () => bn.forwardInference(host.x, { ...opts, ...running, residual: [...host.dy].map((v, i) => (i === 3 ? '1' : v)) as never })],
    ['backward', "residual (the forward's z) one value short", () => bn.backward(host.dy, host.x, { ...opts, residual: host.dy.subarray(1) }, saved)],
    ['backward', 'residual 1 (neither z nor a boolean)', () => bn.backward(host.dy, host.x, { ...opts, residual: 1 as never }, saved)],
    ['backward', "mode 'inference'", () => bn.backward(host.dy, host.x, { ...opts, mode: 'inference' as never }, saved)],
    ['backward', 'training mode without saved statistics', () => bn.backward(host.dy, host.x, opts)],
    ['backward', 'saved.invStd of C − 1 values', () => bn.backward(host.dy, host.x, opts, { mean: saved.mean, invStd: saved.invStd.subarray(1) })],
    ['backward', 'dy one value short', () => bn.backward(host.dy.subarray(1), host.x, opts, saved)],
    ['backward', 'eval mode without running statistics', () => bn.backward(host.dy, host.x, { ...opts, mode: 'eval' })],
    ['backward', 'relu without saved.y', () => bn.backward(host.dy, host.x, { ...opts, activation: 'relu' }, { mean: saved.mean, invStd: saved.invStd })],
    ['backward', 'relu in eval mode without y', () => bn.backward(host.dy, host.x, { ...opts, ...running, activation: 'relu', mode: 'eval' })],
    ['backward', 'saved.y one value short', () => bn.backward(host.dy, host.x, { ...opts, activation: 'relu' }, { ...saved, y: host.x.subarray(1) })],
    ['channelStatistics', 'one value per channel', () => bn.channelStatistics(host.x.subarray(0, C), { shape: [1, C] })],
    ['channelStatistics', 'x holds a string', () => bn.channelStatistics([...host.x].map((v, i) => (i === 3 ? '1' : v)) as never, { shape })],
    ['encodeForwardTrain', 'encoder is null', () => kernels.encodeForwardTrain(null as never, fwd)],
    ['encodeForwardTrain', 'y one value short', () => kernels.encodeForwardTrain(encoder, { ...fwd, y: small })],
    ['encodeForwardTrain', 'x and y one buffer', () => kernels.encodeForwardTrain(encoder, { ...fwd, y: gpu.x })],
    ['encodeForwardTrain', 'gamma is the running mean (written)', () => kernels.encodeForwardTrain(encoder, { ...fwd, gamma: gpu.runningMean })],
    ['encodeForwardTrain', 'stats holds 4·C values', () => kernels.encodeForwardTrain(encoder, { ...fwd, stats: stats4 })],
    ['encodeForwardTrain', 'x without STORAGE usage', () => kernels.encodeForwardTrain(encoder, { ...fwd, x: uniformOnly })],
    ['encodeForwardTrain', 'x is a Float32Array', () => kernels.encodeForwardTrain(encoder, { ...fwd, x: host.x as never })],
    ['encodeForwardInference', 'runningVar missing', () => kernels.encodeForwardInference(encoder, { ...fwd, runningVar: undefined })],
    ['encodeForwardInference', 'y is the running variance', () => kernels.encodeForwardInference(encoder, { ...fwd, y: gpu.runningVar })],
    ['encodeForwardTrain', 'residual buffer one value short', () => kernels.encodeForwardTrain(encoder, { ...fwd, residual: small })],
    ['encodeForwardTrain', 'residual is y', () => kernels.encodeForwardTrain(encoder, { ...fwd, residual: gpu.y })],
    ['encodeForwardInference', 'residual is the stats buffer', () => kernels.encodeForwardInference(encoder, { ...fwd, residual: gpu.stats })],
    ['encodeBackward', 'dz is dx', () => kernels.encodeBackward(encoder, { ...bwd, dz: gpu.dx })],
    ['encodeBackward', 'dz is dy', () => kernels.encodeBackward(encoder, { ...bwd, dz: gpu.dy })],
    ['encodeBackward', 'dz one value short', () => kernels.encodeBackward(encoder, { ...bwd, dz: small })],
    ['encodeBackward', 'dx is x', () => kernels.encodeBackward(encoder, { ...bwd, dx: gpu.x })],
    ['encodeBackward', "accumulate 'yes'", () => kernels.encodeBackward(encoder, { ...bwd, accumulate: 'yes' as never })],
    ['encodeBackward', 'dgamma is dbeta', () => kernels.encodeBackward(encoder, { ...bwd, dgamma: gpu.dbeta })],
    ['encodeBackward', 'relu without y', () => kernels.encodeBackward(encoder, { ...bwd, activation: 'relu' })],
    ['encodeBackward', 'relu, y is dx', () => kernels.encodeBackward(encoder, { ...bwd, activation: 'relu', y: gpu.dx })],
    ['encodeStatistics', 'stats is x', () => kernels.encodeStatistics(encoder, { shape, x: gpu.x, stats: gpu.x })],
    ['encodeStatistics', 'NaN in shape', () => kernels.encodeStatistics(encoder, { shape: [NaN, C], x: gpu.x, stats: gpu.stats })],
    ['createStatsBuffer', '0 channels', () => kernels.createStatsBuffer(0)],
    ['createStatsBuffer', 'more channels than a buffer can hold', () => kernels.createStatsBuffer(1e9)],
    ['BatchNormLayer', 'numFeatures 0', () => new BatchNormLayer(kernels, { numFeatures: 0 })],
    ['BatchNormLayer', 'momentum null with Keras', () => new BatchNormLayer(kernels, { numFeatures: C, momentum: null, convention: 'keras' })],
    ['BatchNormLayer', "affine 'no'", () => new BatchNormLayer(kernels, { numFeatures: C, affine: 'no' as never })],
    ['BatchNormLayer', 'no kernels', () => new BatchNormLayer(undefined as never, { numFeatures: C })],
    ['BatchNormLayer', 'numFeatures beyond the device', () => new BatchNormLayer(kernels, { numFeatures: 2 ** 28 })],
    ['BatchNormLayer.forward', 'shape with another channel count', () => layer.forward(encoder, gpu.x, gpu.y, [4, 6])],
    ['BatchNormLayer.forward', 'NaN in shape', () => layer.forward(encoder, gpu.x, gpu.y, [NaN, C])],
    ['BatchNormLayer.forward', 'x and y one buffer', () => layer.forward(encoder, gpu.x, gpu.x, shape)],
    ['BatchNormLayer.forward', 'residual buffer is y', () => layer.forward(encoder, gpu.x, gpu.y, shape, { residual: gpu.y })],
    ['BatchNormLayer.forward', 'options null', () => layer.forward(encoder, gpu.x, gpu.y, shape, null as never)],
    ['BatchNormLayer.backward', 'dz after a forward without residual', () => layer.backward(encoder, gpu.dy, gpu.dx, { dz: gpu.dz })],
    ['BatchNormLayer.backward', 'dx is dy', () => layer.backward(encoder, gpu.dy, gpu.dy)],
    ['BatchNormLayer.backward', 'before any forward', () => fresh.backward(encoder, gpu.dy, gpu.dx)],
    ['BatchNormLayer.loadStateDict', 'running_var of C − 1 values', () => layer.loadStateDict({ weight: host.gamma, running_var: new Float32Array(C - 1) })],
    ['BatchNormLayer.loadStateDict', 'num_batches_tracked −1', () => layer.loadStateDict({ weight: host.gamma, num_batches_tracked: -1 })],
    ['BatchNormLayer.loadGradients', 'weight gradient is a Float64Array', () => layer.loadGradients({ weight: new Float64Array(C) as never })],
    ['BatchNormLayer.train', "mode 'yes'", () => layer.train('yes' as never)],
    ['createGpuOptimizer', 'lr −1', () => createGpuOptimizer(device, { kind: 'adam', lr: -1 })],
    ['createGpuOptimizer', "unknown option 'beta1'", () => createGpuOptimizer(device, { kind: 'adam', beta1: 0.9 } as never)],
    ['GpuOptimizer.addParam', 'param is its own gradient', () => optimizer.addParam(gpu.gamma, gpu.gamma, C)],
    ['GpuOptimizer.addParam', 'a registered parameter again', () => optimizer.addParam(layer.weight!, gpu.dgamma, C)],
    ['GpuOptimizer.setLearningRate', 'NaN', () => optimizer.setLearningRate(NaN)],
    ['GpuOptimizer.importState', 'a parameter of another length', () => optimizer.importState(badState)],
    ['CpuOptimizer.addParam', 'gradient of another length', () => createCpuOptimizer({ kind: 'sgd' }).addParam(new Float32Array(3), new Float32Array(4))],
    ['createTrainingMirror', 'no layers', () => createTrainingMirror(bn, { layers: [] })],
    ['createTrainingMirror', 'an optimizer parameter that is no layer parameter', () => createTrainingMirror(bn, { layers: [layer], optimizers: [other] })],
    ['createBatchNorm', "checkFinite 'yes'", () => createBatchNorm({ backend: 'webgpu', checkFinite: 'yes' as never })],
  ];

  const rejections: BadInput[] = [];
  for (const [entry, what, work] of catalogue) {
    const start = counter.total();
    let code = 'accepted';
    try {
      await work();
    } catch (error) {
      code = error instanceof BatchNormError ? error.code : `not a BatchNormError: ${String(error)}`;
    }
    rejections.push({ entry, what, code, gpuWork: counter.total() - start });
  }

  const liveBuffersChanged = kernels.liveBuffers !== liveBuffersBefore;
  // Positive control: the same counters see a valid call's device work.
  const controlStart = counter.total();
  kernels.encodeForwardInference(encoder, { ...fwd, stats: undefined, y: gpu.dx, runningMean: gpu.runningMean, runningVar: gpu.runningVar });
  const controlWork = counter.total() - controlStart;
  const controlEncoder = encoder;

  // The encoder the bad calls were given is still valid (the control recorded one pass into it).
  device.pushErrorScope('validation');
  device.queue.submit([controlEncoder.finish()]);
  const error = await device.popErrorScope();
  // The control wrote dx; restore it so the comparison covers the bad calls only.
  device.queue.writeBuffer(gpu.dx, 0, before.dx as Float32Array<ArrayBuffer>);
  const after = await readAll();
  const changed = Object.keys(before).filter((name) => bitsDiffer(before[name], after[name]));
  for (const [name, values] of Object.entries(hostArrays)) if (bitsDiffer(values, hostCopies[name])) changed.push(`host ${name}`);
  if (liveBuffersChanged) changed.push('engine.liveBuffers');
  bn.dispose();
  return { rejections, changed, gpuErrors: error ? [error.message] : [], controlWork };
}
