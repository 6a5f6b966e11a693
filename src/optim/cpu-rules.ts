import type { ResolvedAdamOptions, ResolvedOptimizerOptions, ResolvedRmspropOptions, ResolvedSgdOptions, StateName } from './types';

/**
 * One step of each optimizer on Float32Array data, elementwise in float64. What PyTorch stores (the
 * parameter and the state tensors) is rounded to float32 when written, and the stored value is what
 * later terms read, as in PyTorch and in the GPU kernels; everything else stays float64.
 */
export interface CpuSlot {
  param: Float32Array;
  grad: Float32Array;
  /** Steps taken before this one. */
  step: number;
  buffers: Partial<Record<StateName, Float32Array>>;
}

function sgd(o: ResolvedSgdOptions, lr: number, s: CpuSlot): void {
  const { param, grad } = s;
  const buf = s.buffers.momentumBuffer;
  const first = s.step === 0;
  for (let i = 0; i < param.length; i++) {
    const p = param[i];
    let g = o.maximize ? -grad[i] : grad[i];
    if (o.weightDecay !== 0) g += o.weightDecay * p;
    if (buf) {
      buf[i] = first ? g : o.momentum * buf[i] + (1 - o.dampening) * g;
      g = o.nesterov ? g + o.momentum * buf[i] : buf[i];
    }
    param[i] = p - lr * g;
  }
}

function adam(o: ResolvedAdamOptions, lr: number, s: CpuSlot): void {
  const { param, grad } = s;
  const { expAvg, expAvgSq, maxExpAvgSq } = s.buffers as Required<CpuSlot['buffers']>;
  const [beta1, beta2] = o.betas;
  const t = s.step + 1;
  // Exactly PyTorch's: bias corrections from float64 powers, step size and sqrt(bc2) apart.
  const stepSize = lr / (1 - beta1 ** t);
  const bc2Sqrt = Math.sqrt(1 - beta2 ** t);
  const decoupled = o.kind === 'adamw';
  for (let i = 0; i < param.length; i++) {
    let p = param[i];
    let g = o.maximize ? -grad[i] : grad[i];
    if (o.weightDecay !== 0) {
      if (decoupled) p *= 1 - lr * o.weightDecay;
      else g += o.weightDecay * p;
    }
    expAvg[i] = beta1 * expAvg[i] + (1 - beta1) * g;
    expAvgSq[i] = beta2 * expAvgSq[i] + (1 - beta2) * g * g;
    let v = expAvgSq[i];
    if (o.amsgrad) {
      maxExpAvgSq[i] = Math.max(maxExpAvgSq[i], v);
      v = maxExpAvgSq[i];
    }
    const denom = Math.sqrt(v) / bc2Sqrt + o.eps;
    param[i] = p - stepSize * (expAvg[i] / denom);
  }
}

function rmsprop(o: ResolvedRmspropOptions, lr: number, s: CpuSlot): void {
  const { param, grad } = s;
  const { squareAvg, gradAvg, momentumBuffer } = s.buffers;
  const a = o.alpha;
  for (let i = 0; i < param.length; i++) {
    const p = param[i];
    let g = o.maximize ? -grad[i] : grad[i];
    if (o.weightDecay !== 0) g += o.weightDecay * p;
    squareAvg![i] = a * squareAvg![i] + (1 - a) * g * g;
    let avg: number;
    if (gradAvg) {
      gradAvg[i] = a * gradAvg[i] + (1 - a) * g;
      avg = Math.sqrt(squareAvg![i] - gradAvg[i] * gradAvg[i]) + o.eps;
    } else {
      avg = Math.sqrt(squareAvg![i]) + o.eps;
    }
    if (momentumBuffer) {
      momentumBuffer[i] = o.momentum * momentumBuffer[i] + g / avg;
      param[i] = p - lr * momentumBuffer[i];
    } else {
      param[i] = p - lr * (g / avg);
    }
  }
}

/** Updates slot.param and slot.buffers in place; the caller advances slot.step. */
export function cpuStep(o: ResolvedOptimizerOptions, lr: number, slot: CpuSlot): void {
  if (o.kind === 'sgd') sgd(o, lr, slot);
  else if (o.kind === 'rmsprop') rmsprop(o, lr, slot);
  else adam(o, lr, slot);
}
