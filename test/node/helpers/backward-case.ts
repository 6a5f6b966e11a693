import { resolveBackwardOptions } from '../../../src/backward-options';
import { cpuBackward } from '../../../src/cpu/backward';
import { cpuForwardInference, cpuForwardTrain } from '../../../src/cpu/forward';
import { resolveOptions, resolveScalarOptions } from '../../../src/options';
import type { BackwardMode, BackwardResult, BatchNormOptions } from '../../../src/types';
import { backwardTolerances, CPU_BACKWARD_TERMS, type BackwardTolerances } from '../../support/backward-tolerances';
import type { ReferenceParams } from '../../support/reference';
import { referenceBackward, type ReferenceBackwardResult } from '../../support/reference-backward';
import { EPS32 } from '../../support/tolerances';
import { expectClose } from './expect-close';

/** The reference gets plain numbers; only the defaults (eps, momentum) come from the library. */
export function referenceParamsOf(options: BatchNormOptions): ReferenceParams {
  const { shape, layout, eps, momentum, convention, activation } = resolveScalarOptions(options, 'inference');
  const { gamma, beta, runningMean, runningVar } = options;
  return { shape, layout, gamma, beta, eps, momentum, convention, activation, runningMean, runningVar };
}

export interface BackwardOutcome {
  cpu: BackwardResult;
  ref: ReferenceBackwardResult;
  tol: BackwardTolerances;
}

/**
 * The CPU error model against the independent float64 reference: the CPU path normalizes with the
 * float32 mean and invStd its forward returned (each rounded once from float64: |δ| ≤ ε·|mean|,
 * ρ ≤ ε, doubled for the float64 sums behind them). The relu mask is the forward's y, given to
 * both, so it adds nothing.
 */
export function cpuErrorModel(ref: ReferenceBackwardResult, mode: BackwardMode) {
  const train = mode === 'train';
  return {
    terms: CPU_BACKWARD_TERMS,
    meanError: (c: number) => (train ? 2 * EPS32 * Math.abs(ref.mean[c]) : 0),
    invStdError: train ? 2 * EPS32 : 0,
  };
}

/**
 * Runs the CPU forward (for the saved statistics and the output whose relu mask applies) and the
 * CPU backward, and checks dx, dgamma and dbeta against the float64 reference, which computes its
 * own statistics.
 */
export function checkBackwardCase(x: Float32Array, dy: Float32Array, options: BatchNormOptions, mode: BackwardMode, where: string): BackwardOutcome {
  const p = referenceParamsOf(options);
  let y: Float32Array;
  let saved: { mean: Float32Array; invStd: Float32Array } | undefined;
  if (mode === 'train') {
    const forward = cpuForwardTrain(x, resolveOptions(options, 'train'));
    y = forward.y;
    saved = { mean: forward.mean, invStd: forward.invStd };
  } else {
    y = cpuForwardInference(x, resolveOptions(options, 'inference'));
  }
  const cpu: BackwardResult = cpuBackward(dy, x, resolveBackwardOptions({ ...options, mode }), { ...saved, y });
  const ref = referenceBackward(x, dy, p, { mode, y });
  const model = cpuErrorModel(ref, mode);
  const tol = backwardTolerances(x, dy, p, ref, mode, model);
  expectClose(cpu.dx, ref.dx, tol.dx, 'dx', where);
  expectClose(cpu.dgamma, ref.dgamma, tol.dgamma, 'dgamma', where);
  expectClose(cpu.dbeta, ref.dbeta, tol.dbeta, 'dbeta', where);
  // The backward's own arithmetic: the reference given the statistics the CPU normalized with (as
  // PyTorch's backward gets save_mean and save_invstd) leaves only the final float32 roundings.
  if (saved) {
    const given = referenceBackward(x, dy, p, { mode, stats: saved, y });
    const own = backwardTolerances(x, dy, p, given, mode, { terms: CPU_BACKWARD_TERMS });
    expectClose(cpu.dx, given.dx, own.dx, 'dx|saved', where);
    expectClose(cpu.dgamma, given.dgamma, own.dgamma, 'dgamma|saved', where);
    expectClose(cpu.dbeta, given.dbeta, own.dbeta, 'dbeta|saved', where);
  }
  return { cpu, ref, tol };
}
