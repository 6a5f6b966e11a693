import { BatchNormError } from '../errors';
import type { OptimizerKind, OptimizerOptions, ResolvedOptimizerOptions } from './types';

/**
 * Validation and defaults of the optimizer hyper-parameters, shared by the GPU and CPU optimizers
 * and run before any GPU object exists. The checks are PyTorch's ("Invalid learning rate", "Nesterov
 * momentum requires a momentum and zero dampening", betas in [0, 1)), plus: every number must be a
 * finite float32 (the GPU holds them as f32), eps must stay > 0 as a float32, and dampening and
 * alpha must lie in [0, 1]. Unknown keys are errors, so a typo such as `beta1` is not ignored.
 */
const defaults = {
  sgd: { lr: 1e-3, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false },
  adam: { lr: 1e-3, betas: [0.9, 0.999] as const, eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false },
  adamw: { lr: 1e-3, betas: [0.9, 0.999] as const, eps: 1e-8, weightDecay: 1e-2, amsgrad: false, maximize: false },
  rmsprop: { lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false, maximize: false },
} satisfies Record<OptimizerKind, object>;

const FLOAT32_MAX = 3.4028234663852886e38;

function fail(kind: string, message: string): never {
  throw new BatchNormError('invalid-option', `${kind}: ${message}`);
}

function number(kind: string, name: string, value: unknown, ok: (v: number) => boolean, range: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || Math.abs(value) > FLOAT32_MAX || !ok(value)) {
    fail(kind, `${name} must be a finite number ${range}, got ${String(value)}`);
  }
  return value;
}

function flag(kind: string, name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') fail(kind, `${name} must be true or false, got ${String(value)}`);
  return value;
}

/** lr ≥ 0, as torch.optim checks it; also used by setLearningRate. */
export function checkLearningRate(kind: string, lr: unknown): number {
  return number(kind, 'lr', lr, (v) => v >= 0, '≥ 0');
}

const nonNegative = (v: number) => v >= 0;
const unit = (v: number) => v >= 0 && v <= 1;
const positiveF32 = (v: number) => Math.fround(v) > 0;

export function resolveOptimizerOptions(options: OptimizerOptions): ResolvedOptimizerOptions {
  if (options === null || typeof options !== 'object') fail('optimizer', 'options must be an object with a kind');
  const kind = options.kind;
  if (!Object.hasOwn(defaults, kind)) fail('optimizer', `kind must be one of ${Object.keys(defaults).join(', ')}, got ${String(kind)}`);
  const known = defaults[kind];
  const unknown = Object.keys(options).filter((key) => key !== 'kind' && !Object.hasOwn(known, key));
  if (unknown.length > 0) fail(kind, `unknown option ${unknown.join(', ')} (known: ${Object.keys(known).join(', ')})`);
  const o = { ...known, ...(options as object) } as Record<string, unknown>;
  const lr = checkLearningRate(kind, o.lr);
  const weightDecay = number(kind, 'weightDecay', o.weightDecay, nonNegative, '≥ 0');
  const maximize = flag(kind, 'maximize', o.maximize);
  if (kind === 'sgd') {
    const momentum = number(kind, 'momentum', o.momentum, nonNegative, '≥ 0');
    const dampening = number(kind, 'dampening', o.dampening, unit, 'in [0, 1]');
    const nesterov = flag(kind, 'nesterov', o.nesterov);
    if (nesterov && (momentum <= 0 || dampening !== 0)) fail(kind, 'Nesterov momentum requires a momentum and zero dampening');
    return { kind, lr, momentum, dampening, weightDecay, nesterov, maximize };
  }
  const eps = number(kind, 'eps', o.eps, positiveF32, '> 0 (and > 0 as a float32)');
  if (kind === 'rmsprop') {
    const alpha = number(kind, 'alpha', o.alpha, unit, 'in [0, 1]');
    const momentum = number(kind, 'momentum', o.momentum, nonNegative, '≥ 0');
    const centered = flag(kind, 'centered', o.centered);
    return { kind, lr, alpha, eps, weightDecay, momentum, centered, maximize };
  }
  const betas = o.betas;
  if (!Array.isArray(betas) || betas.length !== 2) fail(kind, `betas must be [beta1, beta2], got ${String(betas)}`);
  const beta = (i: 0 | 1) => number(kind, `betas[${i}]`, betas[i], (v) => v >= 0 && v < 1, 'in [0, 1)');
  const amsgrad = flag(kind, 'amsgrad', o.amsgrad);
  return { kind, lr, betas: [beta(0), beta(1)], eps, weightDecay, amsgrad, maximize };
}
