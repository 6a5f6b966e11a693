import * as tf from '@tensorflow/tfjs';
import type { GradConfig, KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import { BatchNormError } from '../errors';
import { engineFor } from './engine-cache';
import { viewShape } from './kernel-config';
import { bufferOf, missingInternals, newOutput, recordIntoTfjs, webGpuInternals } from './webgpu-backend';

/*
 * TF.js's own `FusedBatchNorm` kernel (what `tf.batchNorm` runs) on the 'webgpu' backend, served by
 * this library's inference kernel, and its gradient served by the library's eval-mode backward.
 *
 * `tf.batchNorm` hands the kernel x reshaped to 4-D and mean, variance, offset and scale either of
 * rank 1 or of x's original rank, broadcast against x. Our kernels take one value per channel along
 * one axis of x: we serve every call whose four parameters have one shape that, aligned to x's last
 * axes, is 1 everywhere but (at most) one axis, where it equals x's size. Anything else (values per
 * element, mixed parameter shapes, non-float32 tensors, an empty x, a tensor the engine refuses) runs
 * TF.js's stock kernel, which we keep and put back on unregister.
 *
 * The gradient is TF.js's (FusedBatchNorm_grad): mean and variance are inputs like any other, so
 * with frozen statistics s = scale · invStd, invStd = 1 / sqrt(variance + ε),
 *   dx = dy · s,  dscale = Σ dy · (x − mean) · invStd,  doffset = Σ dy,
 *   dmean = −s · doffset,  dvariance = −½ · invStd³ · scale · Σ dy · (x − mean) = −½ · s · invStd · dscale,
 * sums over every axis but the channel's. The first three are one eval-mode backward of ours (one
 * reduce, one apply); the last two are per-channel products done with TF.js ops. TF.js reduces the
 * parameter gradients only for rank-1 parameters (it reshapes the unreduced product otherwise), so
 * those are the ones we serve; on other backends and other shapes the stock gradient runs as is.
 */

const KERNEL = tf.FusedBatchNorm;
/** Our eval-mode backward as a TF.js kernel, called by the gradient below. */
const GRAD_KERNEL = 'WebGpuFusedBatchNormGrad';

/** How many calls our kernels served, and how many fell back to TF.js's stock kernel or gradient. */
export interface FusedBatchNormUsage {
  /** Forward calls run by our inference kernel. */
  ours: number;
  /** Forward calls run by TF.js's stock kernel (shapes or dtypes we do not serve). */
  stock: number;
  /** Gradients computed with our backward kernel. */
  oursGradient: number;
  /** Gradients computed by TF.js's stock gradient (other backends, other shapes). */
  stockGradient: number;
  /** Why the last fallback to stock happened, for diagnosis. */
  lastFallback?: string;
}

const usage: FusedBatchNormUsage = { ours: 0, stock: 0, oursGradient: 0, stockGradient: 0 };

/** The stock kernel and gradient while ours are registered. */
let stock: { kernel: KernelConfig; gradient: GradConfig } | undefined;

let warned = false;

/**
 * Whether our kernels can record into this backend's command encoder (webgpu-backend.ts lists what
 * they need, two of which are private fields of WebGPUBackend); one console warning if not.
 */
function recordable(backend: unknown): boolean {
  const missing = missingInternals(backend);
  if (missing.length > 0 && !warned) {
    warned = true;
    console.warn(
      `webgpu-batchnorm/tfjs: this @tensorflow/tfjs-backend-webgpu lacks ${missing.join(', ')}; tf.batchNorm runs TF.js's stock FusedBatchNorm kernel`,
    );
  }
  return missing.length === 0;
}

/** Where TF.js's broadcasting of the parameters against x puts one value per channel. */
export interface ChannelView {
  /** The library's view of x: [outer, C] or [outer, C, inner]. */
  view: number[];
  channels: number;
}

/** The view of x our kernels serve with these parameters, or why they cannot. */
export function fusedChannelView(x: TensorInfo, params: readonly (TensorInfo | null | undefined)[]): ChannelView | string {
  const given = params.filter((p): p is TensorInfo => p != null);
  if ([x, ...given].some((t) => t.dtype !== 'float32')) return 'a tensor is not float32';
  const size = x.shape.reduce((a, b) => a * b, 1);
  if (size === 0) return 'x is empty';
  const shape = given[0].shape;
  if (given.some((p) => p.shape.length !== shape.length || p.shape.some((d, i) => d !== shape[i]))) return 'mean, variance, offset and scale differ in shape';
  if (shape.length > x.shape.length) return 'the parameters have a higher rank than x';
  const lead = x.shape.length - shape.length;
  const axes = shape.map((d, i) => (d === 1 ? -1 : i + lead)).filter((a) => a >= 0);
  if (axes.length === 0) return { view: [size, 1], channels: 1 };
  if (axes.length > 1) return `the parameters hold values along ${axes.length} axes of x, not one per channel`;
  const axis = axes[0];
  if (shape[axis - lead] !== x.shape[axis]) return `the parameters' shape [${shape}] does not broadcast against x [${x.shape}]`;
  return { view: viewShape(x.shape, axis), channels: x.shape[axis] };
}

function fallBack(reason: string): void {
  usage.stock++;
  usage.lastFallback = reason;
}

/** y = (x − mean) · scale / sqrt(variance + ε) + offset: the inference kernel, recorded into TF.js's encoder. */
function inferenceOnOurKernel(backend: unknown, inputs: Record<string, TensorInfo | undefined>, channels: ChannelView, eps: number): TensorInfo {
  const b = webGpuInternals(backend);
  const { x, mean, variance, offset, scale } = inputs as Record<string, TensorInfo>;
  const buffers = {
    x: bufferOf(b, 'x', x),
    runningMean: bufferOf(b, 'mean', mean),
    runningVar: bufferOf(b, 'variance', variance),
    ...(offset ? { beta: bufferOf(b, 'offset', offset) } : {}),
    ...(scale ? { gamma: bufferOf(b, 'scale', scale) } : {}),
  };
  const y = newOutput(b, x.shape);
  const stats = newOutput(b, [5 * channels.channels]);
  const used = [x, mean, variance, ...(offset ? [offset] : []), ...(scale ? [scale] : []), y.info, stats.info];
  try {
    recordIntoTfjs(b, used, (encoder) => {
      engineFor(b.device).encodeForwardInference(encoder, { shape: channels.view, eps, ...buffers, y: y.buffer, stats: stats.buffer });
    });
  } catch (error) {
    b.disposeData(y.info.dataId);
    throw error;
  } finally {
    // Released to TF.js's pool only after the encoder that reads it is submitted (recordIntoTfjs).
    b.disposeData(stats.info.dataId);
  }
  return y.info;
}

/** dx, dscale, doffset from dy, x, the folded statistics and scale: our eval-mode backward. */
const gradKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const b = webGpuInternals(backend);
  const { dy, x, stats, scale } = inputs as Record<string, TensorInfo | undefined> as Record<string, TensorInfo>;
  const view = (attrs as unknown as { view: number[] }).view;
  const C = view[1];
  const buffers = { dy: bufferOf(b, 'dy', dy), x: bufferOf(b, 'x', x), stats: bufferOf(b, 'stats', stats), ...(scale ? { gamma: bufferOf(b, 'scale', scale) } : {}) };
  const dx = newOutput(b, x.shape);
  const dscale = newOutput(b, [C]);
  const doffset = newOutput(b, [C]);
  const outputs = [dx, dscale, doffset];
  try {
    recordIntoTfjs(b, [dy, x, stats, ...(scale ? [scale] : []), ...outputs.map((o) => o.info)], (encoder) => {
      engineFor(b.device).encodeBackward(encoder, {
        shape: view,
        eps: (attrs as unknown as { varianceEpsilon: number }).varianceEpsilon,
        mode: 'eval',
        ...buffers,
        dx: dx.buffer,
        dgamma: dscale.buffer,
        dbeta: doffset.buffer,
      });
    });
  } catch (error) {
    for (const o of outputs) b.disposeData(o.info.dataId);
    throw error;
  }
  return outputs.map((o) => o.info);
};

function ourForward(stockKernel: KernelConfig): KernelFunc {
  return (args) => {
    const { x, mean, variance, offset, scale } = args.inputs as Record<string, TensorInfo | undefined> as Record<string, TensorInfo>;
    const channels = fusedChannelView(x, [mean, variance, offset, scale]);
    if (typeof channels === 'string') {
      fallBack(channels);
    } else if (!recordable(args.backend)) {
      fallBack('the backend does not expose its command encoder');
    } else {
      try {
        const y = inferenceOnOurKernel(args.backend, args.inputs as Record<string, TensorInfo>, channels, (args.attrs as unknown as { varianceEpsilon: number }).varianceEpsilon);
        usage.ours++;
        return y;
      } catch (error) {
        // Refused before anything was recorded (the engine validates first): TF.js's kernel instead.
        if (!(error instanceof BatchNormError)) throw error;
        fallBack(`${error.code}: ${error.message}`);
      }
    }
    return stockKernel.kernelFunc(args);
  };
}

function ourGradient(stockGradient: GradConfig): GradConfig {
  return {
    kernelName: KERNEL,
    inputsToSave: stockGradient.inputsToSave,
    outputsToSave: stockGradient.outputsToSave,
    gradFunc: (dys, saved, attrs) => {
      const dy = Array.isArray(dys) ? dys[0] : dys;
      const [x, mean, variance, scale] = saved as (tf.Tensor | undefined)[] as tf.Tensor[];
      const channels =
        mean.rank !== 1 ? 'the parameters are not of rank 1' : dy.dtype !== 'float32' ? 'dy is not float32' : fusedChannelView(x, [mean, variance, scale]);
      let reason = typeof channels === 'string' ? channels : undefined;
      if (!reason && (tf.getBackend() !== 'webgpu' || !recordable(tf.backend()))) reason = `the gradient runs on '${tf.getBackend()}'`;
      if (!reason) {
        const { varianceEpsilon } = attrs as unknown as { varianceEpsilon: number };
        const invStd = tf.rsqrt(tf.add(variance, tf.scalar(varianceEpsilon)));
        const s = scale == null ? invStd : tf.mul(scale, invStd);
        // [mean | variance | invStd | scale | shift] as the backward reads it (mean and invStd; shift is never read).
        const stats = tf.concat([mean, variance, invStd, s, tf.zerosLike(mean)]);
        try {
          const [dx, dscale, doffset] = tf.engine().runKernel(
            GRAD_KERNEL,
            { dy, x, stats, ...(scale ? { scale } : {}) },
            { view: (channels as ChannelView).view, varianceEpsilon } as unknown as NamedAttrMap,
          ) as tf.Tensor[];
          usage.oursGradient++;
          return {
            x: () => dx,
            mean: () => tf.neg(tf.mul(s, doffset)),
            variance: () => tf.mul(tf.mul(tf.mul(s, invStd), dscale), tf.scalar(-0.5)),
            scale: () => dscale,
            offset: () => doffset,
          };
        } catch (error) {
          if (!(error instanceof BatchNormError)) throw error;
          reason = `${error.code}: ${error.message}`;
        }
      }
      usage.stockGradient++;
      usage.lastFallback = reason;
      return stockGradient.gradFunc(dys, saved, attrs);
    },
  };
}

/**
 * Puts our kernels behind TF.js's `FusedBatchNorm` on the 'webgpu' backend: `tf.batchNorm`, and
 * everything built on it (tf.layers.batchNormalization, converted graph models), runs our inference
 * kernel where the shapes allow and TF.js's stock kernel elsewhere; its gradient, used when training
 * through `tf.moments` + `tf.batchNorm`, runs our backward kernel. The gradient is registered for
 * every backend (TF.js keeps one per kernel name) and hands anything but 'webgpu' to the stock one.
 * Import `@tensorflow/tfjs-backend-webgpu` first. Idempotent; resets the usage counters when it
 * registers.
 */
export function registerFusedBatchNorm(): void {
  if (stock) return;
  const kernel = tf.getKernel(KERNEL, 'webgpu');
  const gradient = tf.getGradient(KERNEL);
  if (!kernel || !gradient) {
    throw new BatchNormError('invalid-option', "registerFusedBatchNorm: TF.js has no 'webgpu' FusedBatchNorm kernel to stand in for; import '@tensorflow/tfjs-backend-webgpu' first");
  }
  stock = { kernel, gradient };
  Object.assign(usage, { ours: 0, stock: 0, oursGradient: 0, stockGradient: 0, lastFallback: undefined });
  tf.unregisterKernel(KERNEL, 'webgpu');
  tf.registerKernel({ ...kernel, kernelFunc: ourForward(kernel) });
  if (!tf.getKernel(GRAD_KERNEL, 'webgpu')) tf.registerKernel({ kernelName: GRAD_KERNEL, backendName: 'webgpu', kernelFunc: gradKernel });
  tf.registerGradient(ourGradient(gradient));
}

/** Puts TF.js's stock FusedBatchNorm kernel and gradient back. Idempotent. */
export function unregisterFusedBatchNorm(): void {
  if (!stock) return;
  tf.unregisterKernel(KERNEL, 'webgpu');
  tf.registerKernel(stock.kernel);
  tf.registerGradient(stock.gradient);
  stock = undefined;
}

export function isFusedBatchNormRegistered(): boolean {
  return stock !== undefined;
}

/** Calls served since registerFusedBatchNorm(): ours, and the fallbacks to stock with the last reason. */
export function fusedBatchNormUsage(): FusedBatchNormUsage {
  return { ...usage };
}
