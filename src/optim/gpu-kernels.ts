import type { OverrideConstants } from '../gpu/pipelines';
import { shaders, type ShaderSource } from '../gpu/shader-sources';
import type { ResolvedOptimizerOptions, StateName } from './types';

/**
 * Which kernel updates a configuration: its shader, entry point and override constants (fixed for
 * the optimizer's lifetime, so one pipeline each), and the values of its `struct Params` for a
 * learning rate and step slot. Derived scalars (1 − β, 1 − γ·λ) are formed here in float64 and
 * rounded to f32 once, rather than in the shader.
 */
export interface OptimizerKernel {
  shader: ShaderSource;
  entryPoint: string;
  constants: OverrideConstants;
  params(lr: number, slot: number): Record<string, number>;
  /**
   * Its storage buffers for @binding(1), @binding(2), … in order (the uniform is @binding(0)),
   * bound like every kernel's (bindGroupEntries, dispatch.ts): the step counters, the parameter's
   * segment, its gradient's, then its state tensors (a placeholder where the configuration keeps
   * none).
   */
  storage: readonly OptimizerBinding[];
}

export type OptimizerBinding = 'steps' | 'param' | 'grad' | StateName;

export function optimizerKernel(o: ResolvedOptimizerOptions): OptimizerKernel {
  const common = { MAXIMIZE: o.maximize, WEIGHT_DECAY: o.weightDecay !== 0 };
  switch (o.kind) {
    case 'sgd':
      return {
        shader: shaders.optimSgd,
        entryPoint: 'sgdStep',
        storage: ['steps', 'param', 'grad', 'momentumBuffer'],
        constants: { ...common, MOMENTUM: o.momentum !== 0, NESTEROV: o.nesterov },
        params: (lr, slot) => ({ lr, momentum: o.momentum, oneMinusDampening: 1 - o.dampening, weightDecay: o.weightDecay, slot }),
      };
    case 'adam':
    case 'adamw': {
      const [beta1, beta2] = o.betas;
      return {
        shader: shaders.optimAdam,
        entryPoint: 'adamStep',
        storage: ['steps', 'param', 'grad', 'expAvg', 'expAvgSq', 'maxExpAvgSq'],
        constants: { ...common, DECOUPLED: o.kind === 'adamw', AMSGRAD: o.amsgrad },
        params: (lr, slot) => ({
          lr,
          beta1,
          beta2,
          oneMinusBeta1: 1 - beta1,
          oneMinusBeta2: 1 - beta2,
          eps: o.eps,
          weightDecay: o.weightDecay,
          decay: 1 - lr * o.weightDecay,
          slot,
        }),
      };
    }
    case 'rmsprop':
      return {
        shader: shaders.optimRmsprop,
        entryPoint: 'rmspropStep',
        storage: ['param', 'grad', 'squareAvg', 'gradAvg', 'momentumBuffer'],
        constants: { ...common, CENTERED: o.centered, MOMENTUM: o.momentum > 0 },
        // RMSprop's formulas do not use the step count, so its Params has no slot.
        params: (lr) => ({ lr, alpha: o.alpha, oneMinusAlpha: 1 - o.alpha, eps: o.eps, weightDecay: o.weightDecay, momentum: o.momentum }),
      };
  }
}
