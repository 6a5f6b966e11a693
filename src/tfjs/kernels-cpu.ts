import type { KernelBackend, KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { resolveBackwardOptions } from '../backward-options';
import { cpuBackward } from '../cpu/backward';
import { cpuForwardTrain } from '../cpu/forward';
import { resolveOptions } from '../options';
import { TRAIN_GRAD_KERNEL, TRAIN_KERNEL, viewShape, type TrainAttrs } from './kernel-config';

/*
 * The same two kernels on TF.js's 'cpu' backend: the library's CPU path (float64 accumulation,
 * outputs rounded to float32 once), reading and writing the backend's own typed arrays.
 */

interface CpuBackend extends KernelBackend {
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): TensorInfo;
}

function values(backend: KernelBackend, info: TensorInfo): Float32Array {
  const data = backend.readSync(info.dataId);
  return data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
}

const forwardTrain: KernelFunc = ({ inputs, backend, attrs }) => {
  const b = backend as CpuBackend;
  const a = attrs as unknown as TrainAttrs;
  const { x, gamma, beta, movingMean, movingVariance } = inputs as Record<string, TensorInfo>;
  const g = values(b, gamma);
  const bt = values(b, beta);
  const options = resolveOptions(
    {
      shape: viewShape(x.shape, a.axis),
      convention: 'keras',
      eps: a.epsilon,
      momentum: a.momentum,
      activation: a.activation,
      gamma: g,
      beta: bt,
      ...(a.updateMoving ? { runningMean: values(b, movingMean), runningVar: values(b, movingVariance) } : {}),
    },
    'train',
  );
  const out = cpuForwardTrain(values(b, x), options);
  const C = g.length;
  const stats = new Float32Array(5 * C);
  stats.set(out.mean, 0);
  stats.set(out.variance, C);
  stats.set(out.invStd, 2 * C);
  for (let c = 0; c < C; c++) {
    const scale = g[c] * out.invStd[c];
    stats[3 * C + c] = scale;
    stats[4 * C + c] = bt[c] - out.mean[c] * scale;
  }
  const outputs = [b.makeTensorInfo(x.shape, 'float32', out.y), b.makeTensorInfo([5 * C], 'float32', stats)];
  if (a.updateMoving) outputs.push(b.makeTensorInfo([C], 'float32', out.runningMean!), b.makeTensorInfo([C], 'float32', out.runningVar!));
  return outputs;
};

const backwardTrain: KernelFunc = ({ inputs, backend, attrs }) => {
  const b = backend as CpuBackend;
  const a = attrs as unknown as TrainAttrs;
  const { dy, x, y, gamma, beta, stats } = inputs as Record<string, TensorInfo>;
  const C = x.shape[a.axis];
  const s = values(b, stats);
  const options = resolveBackwardOptions({
    shape: viewShape(x.shape, a.axis),
    convention: 'keras',
    eps: a.epsilon,
    momentum: a.momentum,
    activation: a.activation,
    gamma: values(b, gamma),
    beta: values(b, beta),
    mode: 'train',
  });
  const saved = { mean: s.slice(0, C), invStd: s.slice(2 * C, 3 * C), y: values(b, y) };
  const out = cpuBackward(values(b, dy), values(b, x), options, saved);
  return [b.makeTensorInfo(x.shape, 'float32', out.dx), b.makeTensorInfo([C], 'float32', out.dgamma), b.makeTensorInfo([C], 'float32', out.dbeta)];
};

export const cpuKernels: KernelConfig[] = [
  { kernelName: TRAIN_KERNEL, backendName: 'cpu', kernelFunc: forwardTrain },
  { kernelName: TRAIN_GRAD_KERNEL, backendName: 'cpu', kernelFunc: backwardTrain },
];
