import { cpuForwardInference, cpuForwardTrain } from '../../../src/cpu/forward';
import { resolveOptions, type ResolvedOptions } from '../../../src/options';
import type { BatchNormOptions, ForwardTrainResult } from '../../../src/types';
import { splitShape } from '../../support/channel-index';
import { channelNormals, normals, uniforms, type Rng } from '../../support/random';
import {
  referenceForwardInference,
  referenceForwardTrain,
  type ReferenceParams,
  type ReferenceTrainResult,
} from '../../support/reference';
import { inferenceTolerance, trainTolerances } from './cpu-tolerance';
import { expectClose } from './expect-close';

/** Random inputs of one test case: data, γ/β and running statistics with fresh per-channel values. */
export interface RandomCase {
  x: Float32Array;
  options: BatchNormOptions;
}

export type CaseSpec = Omit<BatchNormOptions, 'gamma' | 'beta' | 'runningMean' | 'runningVar'> & {
  /** Per-channel mean and standard deviation of x; random when absent. */
  means?: ArrayLike<number>;
  stds?: ArrayLike<number>;
};

export function randomCase(rng: Rng, spec: CaseSpec): RandomCase {
  const { means, stds, ...rest } = spec;
  const C = splitShape(spec.shape, spec.layout).channels;
  const channelMeans = means ?? uniforms(rng, C, -5, 5);
  const channelStds = stds ?? uniforms(rng, C, 0.1, 3);
  const x = channelNormals(rng, spec.shape, spec.layout, channelMeans, channelStds);
  const options: BatchNormOptions = {
    ...rest,
    gamma: normals(rng, C, 1, 0.5),
    beta: normals(rng, C, 0, 0.5),
    runningMean: normals(rng, C, 0, 1),
    runningVar: uniforms(rng, C, 0.5, 2),
  };
  return { x, options };
}

/** The reference gets plain numbers; only the defaults (eps, momentum) come from the library. */
function referenceParams(o: ResolvedOptions): ReferenceParams {
  const { shape, layout, gamma, beta, eps, momentum, convention, activation, runningMean, runningVar, residual } = o;
  return { shape, layout, gamma, beta, eps, momentum, convention, activation, runningMean, runningVar, residual };
}

export interface TrainOutcome {
  cpu: ForwardTrainResult;
  ref: ReferenceTrainResult;
}

/** Runs the CPU training forward and checks every output against the float64 reference. */
export function checkTrainCase(x: Float32Array, options: BatchNormOptions, where: string): TrainOutcome {
  const resolved = resolveOptions(options, 'train');
  const params = referenceParams(resolved);
  const cpu = cpuForwardTrain(x, resolved);
  const ref = referenceForwardTrain(x, params);
  const tol = trainTolerances(x, params, ref);
  expectClose(cpu.y, ref.y, tol.y, 'y', where);
  expectClose(cpu.mean, ref.mean, tol.mean, 'mean', where);
  expectClose(cpu.variance, ref.variance, tol.variance, 'variance', where);
  expectClose(cpu.invStd, ref.invStd, tol.invStd, 'invStd', where);
  if (ref.runningMean && ref.runningVar) {
    if (!cpu.runningMean || !cpu.runningVar) throw new Error(`${where}: running statistics missing`);
    expectClose(cpu.runningMean, ref.runningMean, tol.runningMean, 'runningMean', where);
    expectClose(cpu.runningVar, ref.runningVar, tol.runningVar, 'runningVar', where);
  }
  return { cpu, ref };
}

/** Runs the CPU inference forward and checks it against the float64 reference. */
export function checkInferenceCase(x: Float32Array, options: BatchNormOptions, where: string): Float32Array {
  const resolved = resolveOptions(options, 'inference');
  const params = referenceParams(resolved);
  const y = cpuForwardInference(x, resolved);
  const expected = referenceForwardInference(x, params);
  expectClose(y, expected, inferenceTolerance(x, params, expected), 'inference y', where);
  return y;
}
