import { assertFinite, type NamedArrays } from '../finite';
import type { ChannelView } from '../layout';
import type { FloatInput, Tolerance } from '../types';
import { cpuNormBackward, cpuNormForward } from './cpu-norms';
import { checkNormSaved, checkNormTensor, resolveNormBackwardOptions, resolveNormOptions } from './norm-options';
import type {
  AnyNormOptions,
  GroupNormOptions,
  InstanceNormOptions,
  InstanceNormRunningOptions,
  LayerNormOptions,
  NormBackwardOptions,
  NormBackwardResult,
  NormForwardResult,
  NormKernels,
  NormKind,
  NormSaved,
  NormView,
  RmsNormOptions,
} from './norm-types';
import { verifyNormBackward, verifyNormForward } from './norm-verify';

/** What layer, group and instance norm return: the mean per row is always there. */
export type NormForwardResultWithMean = NormForwardResult & { mean: Float32Array };
/** What instance norm with running statistics returns: their updated copies too. */
export type InstanceNormRunningResult = NormForwardResultWithMean & { runningMean: Float32Array; runningVar: Float32Array };
/** What RMS norm returns: no mean (it subtracts none). */
export type RmsNormForwardResult = Omit<NormForwardResult, 'mean'>;
/** Gradients of layer, group and instance norm: dβ is always there. */
export type NormGradients = NormBackwardResult & { dbeta: Float32Array };
/** Gradients of RMS norm: no dβ. */
export type RmsNormGradients = Omit<NormBackwardResult, 'dbeta'>;
/** With a residual in the options, dz is there too. */
export type WithResidualGradient<T> = T & { dz: Float32Array };
/** Backward options of a forward with a residual. */
export type ResidualNormBackwardOptions<T extends AnyNormOptions> = NormBackwardOptions<T> & { residual: FloatInput | true };

/**
 * The host-array API of layer, RMS, group and instance norm (`bn.norms`): float32 arrays in and
 * out, on the GPU when the engine has the norm kernels, else on the CPU path (float64). Every
 * option is checked before any work; inputs are never modified.
 */
export interface NormFamily {
  layerNorm(x: FloatInput, opts: LayerNormOptions): Promise<NormForwardResultWithMean>;
  rmsNorm(x: FloatInput, opts: RmsNormOptions): Promise<RmsNormForwardResult>;
  groupNorm(x: FloatInput, opts: GroupNormOptions): Promise<NormForwardResultWithMean>;
  /** With runningMean and runningVar: their updated copies (training) or the given ones (training: false) in the result. */
  instanceNorm(x: FloatInput, opts: InstanceNormRunningOptions): Promise<InstanceNormRunningResult>;
  instanceNorm(x: FloatInput, opts: InstanceNormOptions): Promise<NormForwardResultWithMean>;
  layerNormBackward(dy: FloatInput, x: FloatInput, opts: ResidualNormBackwardOptions<LayerNormOptions>, saved: NormSaved): Promise<WithResidualGradient<NormGradients>>;
  layerNormBackward(dy: FloatInput, x: FloatInput, opts: NormBackwardOptions<LayerNormOptions>, saved: NormSaved): Promise<NormGradients>;
  rmsNormBackward(dy: FloatInput, x: FloatInput, opts: ResidualNormBackwardOptions<RmsNormOptions>, saved: NormSaved): Promise<WithResidualGradient<RmsNormGradients>>;
  rmsNormBackward(dy: FloatInput, x: FloatInput, opts: NormBackwardOptions<RmsNormOptions>, saved: NormSaved): Promise<RmsNormGradients>;
  groupNormBackward(dy: FloatInput, x: FloatInput, opts: ResidualNormBackwardOptions<GroupNormOptions>, saved: NormSaved): Promise<WithResidualGradient<NormGradients>>;
  groupNormBackward(dy: FloatInput, x: FloatInput, opts: NormBackwardOptions<GroupNormOptions>, saved: NormSaved): Promise<NormGradients>;
  instanceNormBackward(dy: FloatInput, x: FloatInput, opts: ResidualNormBackwardOptions<InstanceNormOptions>, saved: NormSaved): Promise<WithResidualGradient<NormGradients>>;
  instanceNormBackward(dy: FloatInput, x: FloatInput, opts: NormBackwardOptions<InstanceNormOptions>, saved: NormSaved): Promise<NormGradients>;
}

/** What the engine lends the norm API: its liveness check, its GPU runner and its settings. */
export interface NormEngineHooks {
  checkLive(): void;
  /**
   * Runs `work` on the engine's GPU kernels; undefined when the call must go to the CPU path (no
   * GPU, no norm kernels, or the device was lost during the call).
   */
  onGpu<T>(work: (kernels: NormKernels) => Promise<T>): Promise<T | undefined>;
  /** verify mode's tolerance, or undefined when verify is off. */
  tolerance: Tolerance | undefined;
  checkFinite: boolean;
}

/** checkFinite names the element's parameter (channel, or position in the normalized shape). */
function finiteView(view: NormView): ChannelView {
  const count = view.outer * view.inner;
  if (view.channelsLast) return { outer: count, channels: view.params, inner: 1, count, size: view.size };
  return { outer: view.outer, channels: view.params, inner: view.inner, count, size: view.size };
}

const callNames: Record<NormKind, string> = { layer: 'layerNorm', rms: 'rmsNorm', group: 'groupNorm', instance: 'instanceNorm' };

export function createNormFamily(engine: NormEngineHooks): NormFamily {
  const checkFinite = (call: string, role: 'input' | 'result', arrays: NamedArrays, view: NormView) => {
    if (engine.checkFinite) assertFinite(call, role, arrays, finiteView(view));
  };

  const forward = async (kind: NormKind, input: FloatInput, opts: AnyNormOptions): Promise<NormForwardResult> => {
    engine.checkLive();
    const call = callNames[kind];
    const resolved = resolveNormOptions(kind, opts);
    const x = checkNormTensor('x', input, resolved.view);
    const { runningMean, runningVar } = resolved.running ?? {};
    checkFinite(call, 'input', { x, gamma: resolved.gamma, beta: resolved.beta, residual: resolved.residual, runningMean, runningVar }, resolved.view);
    const gpu = await engine.onGpu((kernels) => kernels.forwardOf(x, resolved));
    let result: NormForwardResult;
    if (!gpu) result = cpuNormForward(x, resolved);
    else {
      if (engine.tolerance) verifyNormForward(gpu, cpuNormForward(x, resolved), x, resolved, engine.tolerance);
      result = gpu;
    }
    checkFinite(call, 'result', { y: result.y, mean: result.mean, invStd: result.invStd, runningMean: result.runningMean, runningVar: result.runningVar }, resolved.view);
    return result;
  };

  const backward = async (kind: NormKind, dyInput: FloatInput, xInput: FloatInput, opts: AnyNormOptions, saved: NormSaved): Promise<NormBackwardResult> => {
    engine.checkLive();
    const call = `${callNames[kind]}Backward`;
    const resolved = resolveNormBackwardOptions(kind, opts);
    const dy = checkNormTensor('dy', dyInput, resolved.view);
    const x = checkNormTensor('x', xInput, resolved.view);
    const checked = checkNormSaved(saved, resolved);
    const z = resolved.residual instanceof Float32Array ? resolved.residual : undefined;
    const inputs = { dy, x, gamma: resolved.gamma, beta: resolved.beta, residual: z, 'saved.mean': checked.mean, 'saved.invStd': checked.invStd, 'saved.y': checked.y };
    checkFinite(call, 'input', inputs, resolved.view);
    const gpu = await engine.onGpu((kernels) => kernels.backwardOf(dy, x, resolved, checked));
    let result: NormBackwardResult;
    if (!gpu) result = cpuNormBackward(dy, x, resolved, checked);
    else {
      if (engine.tolerance) verifyNormBackward(gpu, cpuNormBackward(dy, x, resolved, checked), dy, x, resolved, checked, engine.tolerance);
      result = gpu;
    }
    checkFinite(call, 'result', { dx: result.dx, dgamma: result.dgamma, dbeta: result.dbeta, dz: result.dz }, resolved.view);
    return result;
  };

  // The overloads only narrow the result types; one implementation per kind serves both.
  type Backward = (dy: FloatInput, x: FloatInput, opts: AnyNormOptions, saved: NormSaved) => Promise<NormBackwardResult>;
  const backwardOf = (kind: NormKind): Backward => (dy, x, opts, saved) => backward(kind, dy, x, opts, saved);
  return {
    layerNorm: (x, opts) => forward('layer', x, opts) as Promise<NormForwardResultWithMean>,
    rmsNorm: (x, opts) => forward('rms', x, opts),
    groupNorm: (x, opts) => forward('group', x, opts) as Promise<NormForwardResultWithMean>,
    instanceNorm: ((x: FloatInput, opts: InstanceNormOptions) => forward('instance', x, opts)) as NormFamily['instanceNorm'],
    layerNormBackward: backwardOf('layer') as NormFamily['layerNormBackward'],
    rmsNormBackward: backwardOf('rms') as NormFamily['rmsNormBackward'],
    groupNormBackward: backwardOf('group') as NormFamily['groupNormBackward'],
    instanceNormBackward: backwardOf('instance') as NormFamily['instanceNormBackward'],
  };
}
