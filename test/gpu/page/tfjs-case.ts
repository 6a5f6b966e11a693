/**
 * Harness cases for the TensorFlow.js adapter (src/tfjs), loaded on demand by cases.ts so that other
 * test files' pages do not load TF.js. Each case sets the TF.js backend it needs.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { batchNormalization, batchNormTrain, registerTfjsKernels, tfjsEngineFor, TRAIN_GRAD_KERNEL, TRAIN_KERNEL, WebGpuBatchNormalization, withWebGpuBatchNorm } from '../../../src/tfjs/index';
import { accuracy, BATCH_SIZE, buildModel, toTensors, type Impl } from '../../../demo/model';
import { loadMnist, seededRandom, splitMnist } from '../../../demo/mnist';
import { measureStepTimes, type StepTimingOptions, type StepTimingReport } from '../../../demo/step-timing';
import { foldModelBatchNorm } from '../../../src/tfjs/index';
import { batchNormClasses, foldedErrors, foldedWeightsDiffer, randomizeBatchNorms, type FoldedErrors } from '../../support/fold-bounds';
import { caseSeed, createRng, normals } from '../../support/random';

export type TfjsBackend = 'webgpu' | 'cpu' | 'webgl';

async function useBackend(name: TfjsBackend): Promise<void> {
  if (tf.getBackend() !== name) {
    if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') failed`);
  }
  await tf.ready();
}

function randomTensor(random: () => number, shape: number[], scale = 1, offset = 0): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: size }, () => offset + scale * (2 * random() - 1)), shape);
}

function oneHotBatch(random: () => number, n: number): tf.Tensor2D {
  return tf.tidy(() => tf.oneHot(tf.tensor1d(Array.from({ length: n }, () => Math.floor(random() * 10)), 'int32'), 10).toFloat() as tf.Tensor2D);
}

async function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const [x, y] = await Promise.all([a.data(), b.data()]);
  let worst = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i] - y[i]);
    worst = Number.isNaN(d) ? Infinity : Math.max(worst, d);
  }
  return worst;
}

/** max |a − b| / max |b|: the error relative to the size of the reference gradient. */
async function relDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const peak = tf.tidy(() => tf.max(tf.abs(b)));
  const scale = (await peak.data())[0];
  peak.dispose();
  return (await maxAbsDiff(a, b)) / Math.max(scale, 1e-30);
}

/** The same formulas with stock ops: the reference the op is compared with. */
function stockBatchNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, axis: number, eps: number, relu: boolean): tf.Tensor {
  const ax = axis < 0 ? axis + x.rank : axis;
  const axes = x.shape.map((_, i) => i).filter((i) => i !== ax);
  const { mean, variance } = tf.moments(x, axes, true);
  const shape = x.shape.map((d, i) => (i === ax ? d : 1));
  const y = tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), tf.reshape(gamma, shape)), tf.reshape(beta, shape));
  return relu ? tf.relu(y) : y;
}

export interface ModelParityReport {
  backend: string;
  /** Batches drawn and set aside before one was well posed (wellPosedBatch). */
  redraws: number;
  ourKernels: boolean;
  trainOutputDiff: number;
  inferenceOutputDiff: number;
  movingStatsDiff: number;
  /** Per trainable weight: max |ours − stock| / max |stock|. */
  gradRelDiff: Record<string, number>;
}

/**
 * Inputs of a ReLU that follows a batch norm are kept at least this far from zero: an op's y before
 * its relu (runOpParity), the demo model's second dense layer's pre-activations (wellPosedBatch).
 * Ours and the stock layer give batch-norm outputs a few ulp apart, which the dense layer's 128
 * products take to ~1e-6 (seen: 1.2e-6): a pre-activation nearer zero than that may fall on either
 * side of its ReLU, and every gradient behind that ReLU then differs by one sample's share — 2e-2
 * relative for that layer's weights, 3e-3 for the first's (TEST_SEED=2718, one such value, 3e-8) —
 * though both results are right. The margin is ~100× the differences seen. (The first dense
 * layer's ReLU sees the same input in both models.)
 */
const RELU_MARGIN = 1e-4;

/**
 * A batch x of the demo's input size whose second dense layer's pre-activations, computed with
 * stock ops from the model's weights, all lie further than RELU_MARGIN from zero: the next draw
 * from `random` otherwise (deterministic per seed; of seeds 1–11 and 2718, only 2718 set one draw
 * aside). Stock ops, not the model's layers: applying its batch-norm layer in training mode would
 * move its statistics.
 */
async function wellPosedBatch(random: () => number, model: tf.LayersModel): Promise<{ x: tf.Tensor; redraws: number }> {
  const [w1, b1] = model.layers[0].getWeights();
  const [gamma, beta] = model.layers[1].getWeights();
  const { epsilon } = model.layers[1].getConfig() as { epsilon: number };
  const [w2, b2] = model.layers[2].getWeights();
  for (let redraws = 0; ; redraws++) {
    const x = tf.tidy(() => tf.relu(randomTensor(random, [BATCH_SIZE, 784])));
    const margin = await minAbs(
      tf.tidy(() => {
        const h = tf.relu(tf.add(tf.matMul(x as tf.Tensor2D, w1 as tf.Tensor2D), b1));
        return tf.add(tf.matMul(stockBatchNorm(h, gamma, beta, 1, epsilon, false) as tf.Tensor2D, w2 as tf.Tensor2D), b2);
      }),
    );
    if (margin > RELU_MARGIN) return { x, redraws };
    if (redraws >= 100) throw new Error(`no well-posed batch in 100 draws (nearest pre-activation ${margin})`);
    x.dispose();
  }
}

/** min |t|, read back (disposes t). */
async function minAbs(t: tf.Tensor): Promise<number> {
  const nearest = tf.tidy(() => tf.min(tf.abs(t)));
  t.dispose();
  const value = (await nearest.data())[0];
  nearest.dispose();
  return value;
}

/**
 * The demo model with identical weights, stock layer vs ours: a training-mode forward, the
 * gradients of a batch's loss for every trainable weight, moving statistics, inference.
 */
export async function runModelParity(arg: { seed: number; backend: TfjsBackend }): Promise<ModelParityReport | { unavailable: string }> {
  // Chromium is phasing out its automatic software WebGL: without it there is no webgl to test.
  if (arg.backend === 'webgl' && !(await tf.setBackend('webgl').catch(() => false))) return { unavailable: 'TF.js webgl backend' };
  await useBackend(arg.backend);
  const random = seededRandom(arg.seed);
  const stock = buildModel('stock', { seed: arg.seed });
  const ours = buildModel('ours', { seed: arg.seed + 1 });
  ours.setWeights(stock.getWeights());
  const { x, redraws } = await wellPosedBatch(random, stock);
  const labels = oneHotBatch(random, BATCH_SIZE);
  const report: ModelParityReport = {
    redraws,
    backend: tf.getBackend(),
    ourKernels: false,
    trainOutputDiff: 0,
    inferenceOutputDiff: 0,
    movingStatsDiff: 0,
    gradRelDiff: {},
  };
  const yStock = stock.apply(x, { training: true }) as tf.Tensor;
  const yOurs = ours.apply(x, { training: true }) as tf.Tensor;
  report.trainOutputDiff = await maxAbsDiff(yOurs, yStock);
  report.ourKernels = tf.getKernel(TRAIN_KERNEL, tf.getBackend()) !== undefined;

  const loss = (model: tf.LayersModel) => () => tf.losses.softmaxCrossEntropy(labels, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar;
  const gStock = tf.variableGrads(loss(stock), stock.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val));
  const gOurs = tf.variableGrads(loss(ours), ours.trainableWeights.map((w) => (w as unknown as { val: tf.Variable }).val));
  const stockNames = Object.keys(gStock.grads);
  const ourNames = Object.keys(gOurs.grads);
  for (let i = 0; i < stockNames.length; i++) {
    report.gradRelDiff[stockNames[i].replace(/_\d+\//, '/')] = await relDiff(gOurs.grads[ourNames[i]], gStock.grads[stockNames[i]]);
  }
  const stockWeights = stock.getWeights();
  const ourWeights = ours.getWeights();
  for (let i = 0; i < stockWeights.length; i++) {
    if (/moving/.test(stock.weights[i].name)) report.movingStatsDiff = Math.max(report.movingStatsDiff, await maxAbsDiff(ourWeights[i], stockWeights[i]));
  }
  const pStock = stock.predict(x) as tf.Tensor;
  const pOurs = ours.predict(x) as tf.Tensor;
  report.inferenceOutputDiff = await maxAbsDiff(pOurs, pStock);
  tf.dispose([x, labels, yStock, yOurs, pStock, pOurs, gStock.value, gOurs.value, Object.values(gStock.grads), Object.values(gOurs.grads)]);
  stock.dispose();
  ours.dispose();
  return report;
}

export interface OpParityReport {
  backend: string;
  yDiff: number;
  movingMeanDiff: number;
  movingVarianceDiff: number;
  dxRel: number;
  dgammaRel: number;
  dbetaRel: number;
  /** Tensors alive after the case minus before: 0 when nothing leaks. */
  leakedTensors: number;
}

/**
 * batchNormTrain on one shape and axis vs the stock formulas, with x produced by a TF.js op just
 * before and y consumed by one just after (all in TF.js's unsubmitted encoder on webgpu), so the
 * result also shows that our passes run in order with TF.js's queued work.
 */
export async function runOpParity(arg: { seed: number; backend: TfjsBackend; shape: number[]; axis: number; relu: boolean; center: number }): Promise<OpParityReport> {
  await useBackend(arg.backend);
  const random = seededRandom(arg.seed);
  const before = tf.memory().numTensors;
  const ax = arg.axis < 0 ? arg.axis + arg.shape.length : arg.axis;
  const C = arg.shape[ax];
  let a = randomTensor(random, arg.shape, 2, arg.center);
  let b = randomTensor(random, arg.shape, 0.5);
  const gamma = randomTensor(random, [C], 0.5, 1);
  const beta = randomTensor(random, [C], 0.5);
  const dy = randomTensor(random, arg.shape);
  const movingMean = randomTensor(random, [C], 0.1);
  const movingVariance = randomTensor(random, [C], 0.1, 1);
  const eps = 1e-3;
  const momentum = 0.9;
  const activation = arg.relu ? 'relu' : 'none';
  // With relu, an input whose y (before the relu) lies within the two results' few-ulp difference
  // of zero may be masked by one and not the other, and its dy then reaches dx in one only: such an
  // x is drawn again (as wellPosedBatch does for the model).
  const nearestToZero = () => minAbs(tf.tidy(() => stockBatchNorm(tf.add(a, b), gamma, beta, arg.axis, eps, false)));
  for (let draws = 0; arg.relu && (await nearestToZero()) <= RELU_MARGIN; draws++) {
    if (draws >= 100) throw new Error('no well-posed x in 100 draws');
    tf.dispose([a, b]);
    a = randomTensor(random, arg.shape, 2, arg.center);
    b = randomTensor(random, arg.shape, 0.5);
  }

  const ours = (x: tf.Tensor, g: tf.Tensor, bt: tf.Tensor) => tf.mul(batchNormTrain(x, g, bt, { axis: arg.axis, epsilon: eps, activation }).y, dy).sum() as tf.Scalar;
  const stock = (x: tf.Tensor, g: tf.Tensor, bt: tf.Tensor) => tf.mul(stockBatchNorm(x, g, bt, arg.axis, eps, arg.relu), dy).sum() as tf.Scalar;

  const report = tf.tidy(() => {
    const x = tf.add(a, b); // queued by TF.js right before our op
    const out = batchNormTrain(x, gamma, beta, { axis: arg.axis, epsilon: eps, momentum, activation, movingMean, movingVariance });
    const yOurs = tf.mul(out.y, 1); // consumed by TF.js right after
    const yStock = stockBatchNorm(x, gamma, beta, arg.axis, eps, arg.relu);
    const axes = arg.shape.map((_, i) => i).filter((i) => i !== ax);
    const m = tf.moments(x, axes);
    const mmStock = tf.add(tf.mul(movingMean, momentum), tf.mul(m.mean, 1 - momentum));
    const mvStock = tf.add(tf.mul(movingVariance, momentum), tf.mul(m.variance, 1 - momentum));
    const gOurs = tf.grads(ours)([x, gamma, beta]);
    const gStock = tf.grads(stock)([x, gamma, beta]);
    return { yOurs, yStock, mm: out.movingMean!, mmStock, mv: out.movingVariance!, mvStock, gOurs, gStock };
  });
  const result: OpParityReport = {
    backend: tf.getBackend(),
    yDiff: await maxAbsDiff(report.yOurs, report.yStock),
    movingMeanDiff: await maxAbsDiff(report.mm, report.mmStock),
    movingVarianceDiff: await maxAbsDiff(report.mv, report.mvStock),
    dxRel: await relDiff(report.gOurs[0], report.gStock[0]),
    dgammaRel: await relDiff(report.gOurs[1], report.gStock[1]),
    dbetaRel: await relDiff(report.gOurs[2], report.gStock[2]),
    leakedTensors: 0,
  };
  tf.dispose([a, b, gamma, beta, dy, movingMean, movingVariance, report as unknown as tf.TensorContainer]);
  result.leakedTensors = tf.memory().numTensors - before;
  return result;
}

export interface SteadyStateReport {
  steps: number;
  /** Calls of our two kernels during the measured steps (2 layers × forward and backward). */
  kernelCalls: number;
  /** Inside our kernels, during the measured steps: */
  createBufferInKernels: number;
  writeBufferInKernels: number;
  submitInKernels: number;
  mapAsyncInKernels: number;
  /** Whole training steps (model.trainOnBatch), per step, for information. */
  createBufferPerStepOurs: number;
  createBufferPerStepStock: number;
  /** Bind groups our kernels created during the measured steps (0 when TF.js hands back the same buffers). */
  bindGroupsInKernels: number;
  /** The adapter of TF.js's device as the engine sees it, and the tuning the engine runs with. */
  adapter: { architecture: string; isFallbackAdapter: boolean };
  tuning: Record<string, unknown>;
  /** GPU buffers our engine owns (pipelines' uniforms, scratch, constants) before and after. */
  engineBuffersBefore: number;
  engineBuffersAfter: number;
  /** TF.js pool bytes allocated before and after the measured steps of our model. */
  tfjsBytesBefore: number;
  tfjsBytesAfter: number;
  /** Live TF.js tensors before and after the measured steps of our model. */
  tensorsBefore: number;
  tensorsAfter: number;
}

/**
 * Counts the GPU objects created while training steps run, after a warm-up: inside our kernels (a
 * wrapper re-registered around each marks them), and over whole steps of the stock and our model.
 */
export async function runSteadyState(arg: { seed: number; warmup: number; steps: number }): Promise<SteadyStateReport> {
  await useBackend('webgpu');
  const backend = tf.backend() as unknown as { device: GPUDevice; bufferManager: { numBytesAllocated: number } };
  const device = backend.device;
  const counts = { createBuffer: 0, writeBuffer: 0, submit: 0, mapAsync: 0, createBindGroup: 0, kernelCalls: 0 };
  const inKernels = { createBuffer: 0, writeBuffer: 0, submit: 0, mapAsync: 0, createBindGroup: 0 };
  let inside = false;
  const count = (key: keyof typeof inKernels) => {
    counts[key]++;
    if (inside) inKernels[key]++;
  };
  const originals = {
    createBuffer: device.createBuffer,
    createBindGroup: device.createBindGroup,
    writeBuffer: device.queue.writeBuffer,
    submit: device.queue.submit,
    mapAsync: GPUBuffer.prototype.mapAsync,
  };
  device.createBuffer = function (descriptor) {
    count('createBuffer');
    return originals.createBuffer.call(this, descriptor);
  };
  device.createBindGroup = function (descriptor) {
    count('createBindGroup');
    return originals.createBindGroup.call(this, descriptor);
  };
  device.queue.writeBuffer = function (...args: Parameters<GPUQueue['writeBuffer']>) {
    count('writeBuffer');
    return originals.writeBuffer.apply(this, args);
  };
  device.queue.submit = function (buffers) {
    count('submit');
    return originals.submit.call(this, buffers);
  };
  GPUBuffer.prototype.mapAsync = function (...args: Parameters<GPUBuffer['mapAsync']>) {
    count('mapAsync');
    return originals.mapAsync.apply(this, args);
  };
  registerTfjsKernels();
  const wrapped = [TRAIN_KERNEL, TRAIN_GRAD_KERNEL].map((name) => tf.getKernel(name, 'webgpu')!);
  for (const config of wrapped) {
    tf.unregisterKernel(config.kernelName, 'webgpu');
    tf.registerKernel({
      ...config,
      kernelFunc: (params) => {
        counts.kernelCalls++;
        inside = true;
        try {
          return config.kernelFunc(params);
        } finally {
          inside = false;
        }
      },
    });
  }
  try {
    const random = seededRandom(arg.seed);
    const x = tf.tidy(() => tf.relu(randomTensor(random, [BATCH_SIZE, 784])));
    const y = oneHotBatch(random, BATCH_SIZE);
    const perStep = async (impl: Impl) => {
      const model = buildModel(impl, { seed: arg.seed });
      for (let i = 0; i < arg.warmup; i++) await model.trainOnBatch(x, y);
      const start = { ...counts };
      const startIn = { ...inKernels };
      const engineBefore = tfjsEngineFor(device)?.liveBuffers ?? 0;
      const bytesBefore = backend.bufferManager.numBytesAllocated;
      const tensorsBefore = tf.memory().numTensors;
      for (let i = 0; i < arg.steps; i++) await model.trainOnBatch(x, y);
      await device.queue.onSubmittedWorkDone();
      const tensorsAfter = tf.memory().numTensors;
      model.dispose();
      return {
        createBuffer: (counts.createBuffer - start.createBuffer) / arg.steps,
        kernelCalls: counts.kernelCalls - start.kernelCalls,
        inKernels: Object.fromEntries(Object.entries(inKernels).map(([k, v]) => [k, v - startIn[k as keyof typeof inKernels]])) as typeof inKernels,
        engineBefore,
        engineAfter: tfjsEngineFor(device)?.liveBuffers ?? 0,
        bytesBefore,
        bytesAfter: backend.bufferManager.numBytesAllocated,
        tensorsBefore,
        tensorsAfter,
      };
    };
    const stock = await perStep('stock');
    const ours = await perStep('ours');
    tf.dispose([x, y]);
    return {
      steps: arg.steps,
      kernelCalls: ours.kernelCalls,
      createBufferInKernels: ours.inKernels.createBuffer,
      writeBufferInKernels: ours.inKernels.writeBuffer,
      submitInKernels: ours.inKernels.submit,
      mapAsyncInKernels: ours.inKernels.mapAsync,
      bindGroupsInKernels: ours.inKernels.createBindGroup,
      adapter: { architecture: device.adapterInfo?.architecture ?? '', isFallbackAdapter: Boolean((device.adapterInfo as GPUAdapterInfo & { isFallbackAdapter?: boolean })?.isFallbackAdapter) },
      tuning: { ...tfjsEngineFor(device)!.tuning },
      createBufferPerStepOurs: ours.createBuffer,
      createBufferPerStepStock: stock.createBuffer,
      engineBuffersBefore: ours.engineBefore,
      engineBuffersAfter: ours.engineAfter,
      tfjsBytesBefore: ours.bytesBefore,
      tfjsBytesAfter: ours.bytesAfter,
      tensorsBefore: ours.tensorsBefore,
      tensorsAfter: ours.tensorsAfter,
    };
  } finally {
    for (const config of wrapped) {
      tf.unregisterKernel(config.kernelName, 'webgpu');
      tf.registerKernel(config);
    }
    device.createBuffer = originals.createBuffer;
    device.createBindGroup = originals.createBindGroup;
    device.queue.writeBuffer = originals.writeBuffer;
    device.queue.submit = originals.submit;
    GPUBuffer.prototype.mapAsync = originals.mapAsync;
  }
}

export interface SerializationReport {
  /** Our model saved and loaded back. */
  roundTripClass: string[];
  roundTripWeightsDiff: number;
  roundTripPredictDiff: number;
  /** A stock model saved, loaded through withWebGpuBatchNorm. */
  fromStockClass: string[];
  /** Layer names and weight names (less the suffix TF.js adds to keep variable names unique) kept. */
  fromStockNamesKept: boolean;
  fromStockPredictDiff: number;
  /** Config of our layer equals the stock layer's (besides name). */
  configMatches: boolean;
}

async function saveToMemory(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    saved = artifacts;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  return saved!;
}

async function weightsDiff(a: tf.LayersModel, b: tf.LayersModel): Promise<number> {
  const wa = a.getWeights();
  const wb = b.getWeights();
  if (wa.length !== wb.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < wa.length; i++) worst = Math.max(worst, await maxAbsDiff(wa[i], wb[i]));
  return worst;
}

export async function runSerialization(arg: { seed: number }): Promise<SerializationReport> {
  await useBackend('webgpu');
  const random = seededRandom(arg.seed);
  const x = tf.tidy(() => tf.relu(randomTensor(random, [BATCH_SIZE, 784])));
  const y = oneHotBatch(random, BATCH_SIZE);
  const bnClasses = (model: tf.LayersModel) => model.layers.filter((l) => /Normalization/.test(l.getClassName())).map((l) => l.getClassName());

  const ours = buildModel('ours', { seed: arg.seed });
  await ours.trainOnBatch(x, y);
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(await saveToMemory(ours)));
  const p1 = ours.predict(x) as tf.Tensor;
  const p2 = loaded.predict(x) as tf.Tensor;

  const stock = buildModel('stock', { seed: arg.seed });
  await stock.trainOnBatch(x, y);
  const fromStock = await tf.loadLayersModel(withWebGpuBatchNorm(tf.io.fromMemory(await saveToMemory(stock))));
  const p3 = stock.predict(x) as tf.Tensor;
  const p4 = fromStock.predict(x) as tf.Tensor;

  const stockConfig = tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-2, center: false, name: 'same' }).getConfig();
  const ourConfig = batchNormalization({ momentum: 0.9, epsilon: 1e-2, center: false, name: 'same' }).getConfig();

  const report: SerializationReport = {
    roundTripClass: bnClasses(loaded),
    roundTripWeightsDiff: await weightsDiff(ours, loaded),
    roundTripPredictDiff: await maxAbsDiff(p1, p2),
    fromStockClass: fromStock.layers.filter((l) => l instanceof WebGpuBatchNormalization).map((l) => l.getClassName()),
    fromStockNamesKept:
      fromStock.layers.map((l) => l.name).join() === stock.layers.map((l) => l.name).join() &&
      fromStock.weights.map((w) => w.name.replace(/_\d+$/, '')).join() === stock.weights.map((w) => w.name).join(),
    fromStockPredictDiff: await maxAbsDiff(p3, p4),
    configMatches: JSON.stringify(stockConfig) === JSON.stringify(ourConfig),
  };
  tf.dispose([x, y, p1, p2, p3, p4]);
  for (const m of [ours, loaded, stock, fromStock]) m.dispose();
  return report;
}

export interface MnistReport {
  backend: string;
  impl: Impl;
  trainCount: number;
  testCount: number;
  epochs: number;
  testAccuracy: number;
  finalLoss: number;
  trainSeconds: number;
  msPerStep: number;
}

/** Trains the demo model with model.fit on real MNIST digits and measures held-out accuracy. */
export async function runMnist(arg: { impl: Impl; epochs: number; trainCount: number; testCount: number; seed: number }): Promise<MnistReport> {
  await useBackend('webgpu');
  const { train, test } = splitMnist(await loadMnist(), arg.trainCount, arg.testCount, arg.seed);
  const trainT = toTensors(train);
  const testT = toTensors(test);
  const model = buildModel(arg.impl, { seed: arg.seed });
  const start = performance.now();
  const history = await model.fit(trainT.x, trainT.y, { batchSize: BATCH_SIZE, epochs: arg.epochs, shuffle: false, verbose: 0 });
  const trainSeconds = (performance.now() - start) / 1000;
  const testAccuracy = await accuracy(model, testT.x, test.labels);
  const losses = history.history.loss as number[];
  tf.dispose([trainT.x, trainT.y, testT.x, testT.y]);
  model.dispose();
  const steps = arg.epochs * Math.ceil(arg.trainCount / BATCH_SIZE);
  return {
    backend: tf.getBackend(),
    impl: arg.impl,
    trainCount: train.count,
    testCount: test.count,
    epochs: arg.epochs,
    testAccuracy,
    finalLoss: losses[losses.length - 1],
    trainSeconds,
    msPerStep: (trainSeconds * 1000) / steps,
  };
}

/** The demo's per-step timing (demo/step-timing.ts) on the WebGPU backend. */
export async function runStepTiming(arg: StepTimingOptions & { flags?: Record<string, number | boolean> }): Promise<StepTimingReport> {
  await useBackend('webgpu');
  for (const [name, value] of Object.entries(arg.flags ?? {})) tf.env().set(name, value);
  return measureStepTimes(arg);
}

export interface FoldReport extends FoldedErrors {
  name: string;
  backend: string;
  /** Layer classes of the folded model. */
  layers: string[];
  /** What differs between the folded weights and foldBatchNorm's (none expected). */
  weightProblems: string[];
}

/**
 * foldModelBatchNorm on TF.js's WebGPU backend: the demo model with each batch-norm layer, trained
 * a few steps by model.fit on real MNIST digits, and a convolution model, each with random
 * batch-norm statistics; the folded model's errors against the bound of test/support/fold-bounds.ts
 * on held-out digits (float32 sums on the GPU, unlike TF.js's CPU backend).
 */
export async function runFold(arg: { seed: number }): Promise<FoldReport[]> {
  await useBackend('webgpu');
  const { train, test } = splitMnist(await loadMnist(), 256, 200, arg.seed);
  const trainT = toTensors(train);
  const testT = toTensors(test);
  const reports: FoldReport[] = [];
  const report = async (name: string, model: tf.LayersModel, x: tf.Tensor, classes: number, pairs: [number, number, 'after' | 'before'][]) => {
    randomizeBatchNorms(model, createRng(caseSeed(arg.seed, name)));
    const folded = await foldModelBatchNorm(model, { strict: true });
    const errors = await foldedErrors(model, folded, x, classes);
    const weightProblems: string[] = [];
    for (const [into, bn, where] of pairs) {
      const problem = await foldedWeightsDiffer(model, folded, model.layers[into].name, model.layers[bn].name, where);
      if (problem) weightProblems.push(problem);
    }
    reports.push({ name, backend: tf.getBackend(), layers: folded.layers.map((l) => l.getClassName()), weightProblems, ...errors });
    folded.dispose();
    model.dispose();
  };
  for (const impl of ['stock', 'ours'] as const) {
    const model = buildModel(impl, { seed: arg.seed });
    await model.fit(trainT.x, trainT.y, { batchSize: BATCH_SIZE, epochs: 1, shuffle: false, verbose: 0 });
    await report(`demo model (${impl})`, model, testT.x, 10, [[2, 1, 'before'], [4, 3, 'before']]);
  }
  const conv = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [9, 8, 3], filters: 5, kernelSize: 3, padding: 'same', useBias: false }),
      tf.layers.batchNormalization(),
      tf.layers.activation({ activation: 'relu' }),
      tf.layers.conv2d({ filters: 4, kernelSize: [2, 3], padding: 'valid', activation: 'relu' }),
      batchNormalization(),
      tf.layers.conv2d({ filters: 3, kernelSize: 2, padding: 'valid' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 6, activation: 'softmax' }),
    ],
  });
  const x = tf.tensor4d(normals(createRng(caseSeed(arg.seed, 'conv x')), 7 * 9 * 8 * 3, 0.2, 1), [7, 9, 8, 3]);
  await report('conv model', conv, x, 6, [[0, 1, 'after'], [5, 4, 'before']]);
  tf.dispose([trainT.x, trainT.y, testT.x, testT.y, x]);
  if (reports.some((r) => r.layers.some((c) => batchNormClasses.includes(c)))) throw new Error('a batch norm was left although strict');
  return reports;
}
