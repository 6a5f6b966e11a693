/**
 * The inputs of one benchmark case, shared by every implementation, and the reference the errors
 * are measured against: the library's CPU path (float64 accumulation) where it has the op, else a
 * float64 reference written here (backward, until the library has a CPU backward).
 */
import { channelView, type BatchNorm, type ChannelView, type SavedStatistics } from '../../src/index';
import type { CaseSpec } from '../lib/types';
import { generator, uniform } from './data';

/** PyTorch's default, used by every implementation (TF.js gets it explicitly). */
export const EPS = 1e-5;

export interface CaseData {
  spec: CaseSpec;
  view: ChannelView;
  x: Float32Array;
  dy: Float32Array | undefined;
  gamma: Float32Array;
  beta: Float32Array;
  runningMean: Float32Array;
  runningVar: Float32Array;
  /** Reference outputs by name; the first is the main output (y or dx). */
  reference: Record<string, Float32Array>;
  referenceSource: string;
  /** Backward: the batch statistics of the forward (from the CPU path), as `bn.backward` takes them. */
  saved: SavedStatistics | undefined;
}

export function makeCase(spec: CaseSpec): CaseData {
  const view = channelView(spec.shape, spec.layout);
  const C = view.channels;
  const random = generator(spec.seed);
  // Off-centre data (mean 3, std ≈ 1.2) so that a kernel which forgets the mean shows.
  const x = uniform(random, view.size, 3, 2);
  const dy = spec.op === 'backward' ? uniform(random, view.size, 0, 1) : undefined;
  const data: CaseData = {
    spec,
    view,
    x,
    dy,
    gamma: uniform(random, C, 1, 0.5),
    beta: uniform(random, C, 0, 1),
    runningMean: uniform(random, C, 3, 0.5),
    runningVar: uniform(random, C, 1.3, 0.3),
    reference: {},
    referenceSource: '',
    saved: undefined,
  };
  return data;
}

/** Host-array options of the library for this case. */
export function libraryOptions(data: CaseData) {
  return {
    shape: data.spec.shape,
    layout: data.spec.layout,
    gamma: data.gamma,
    beta: data.beta,
    eps: EPS,
    runningMean: data.runningMean,
    runningVar: data.runningVar,
  };
}

/** Fills data.reference (untimed). */
export async function computeReference(data: CaseData, cpu: BatchNorm): Promise<void> {
  const opts = libraryOptions(data);
  switch (data.spec.op) {
    case 'forward-train': {
      const out = await cpu.forwardTrain(data.x, opts);
      data.reference = { y: out.y, mean: out.mean, variance: out.variance };
      data.referenceSource = 'library CPU path (float64 accumulation)';
      return;
    }
    case 'inference':
      data.reference = { y: await cpu.forwardInference(data.x, opts) };
      data.referenceSource = 'library CPU path (float64 accumulation)';
      return;
    case 'backward': {
      const dy = data.dy as Float32Array;
      const forward = await cpu.forwardTrain(data.x, { ...opts, runningMean: undefined, runningVar: undefined });
      data.saved = { mean: forward.mean, invStd: forward.invStd };
      const out = await cpu.backward(dy, data.x, opts, data.saved);
      data.reference = { dx: out.dx, dgamma: out.dgamma, dbeta: out.dbeta };
      data.referenceSource = 'library CPU path (float64 accumulation)';
    }
  }
}
