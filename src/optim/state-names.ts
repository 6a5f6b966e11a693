import type { ResolvedOptimizerOptions, StateName } from './types';

/**
 * The state tensors a configuration keeps per parameter, as PyTorch allocates them: SGD a momentum
 * buffer only when momentum ≠ 0; Adam/AdamW both moments, plus the running maximum with amsgrad;
 * RMSprop the square average, plus the gradient average when centered and a momentum buffer when
 * momentum > 0. Every tensor starts at zero (SGD's momentum buffer is set to the first gradient).
 */
export function stateNames(o: ResolvedOptimizerOptions): StateName[] {
  switch (o.kind) {
    case 'sgd':
      return o.momentum !== 0 ? ['momentumBuffer'] : [];
    case 'adam':
    case 'adamw':
      return o.amsgrad ? ['expAvg', 'expAvgSq', 'maxExpAvgSq'] : ['expAvg', 'expAvgSq'];
    case 'rmsprop':
      return [
        'squareAvg',
        ...(o.centered ? (['gradAvg'] as const) : []),
        ...(o.momentum > 0 ? (['momentumBuffer'] as const) : []),
      ];
  }
}
