/**
 * The backward's guards, run inside the page: verify mode accepts a correct backward and catches a
 * corrupted one; encodeBackward rejects bad arguments with typed errors before encoding anything.
 */
import { BatchNormError, createBatchNorm, type GpuBackwardArgs } from '../../../src/index';
import { caseSeed, createRng, normals } from '../../support/random';
import { storageBuffer } from './gpu-buffers';

export interface BackwardVerifyReport {
  cleanRunPassed: boolean;
  corruptedCode: string | null;
  corruptedMessage: string | null;
}

/** Like verify-case.ts: the readback of dx is shifted by one element while everything else runs. */
export async function runBackwardVerifyCase(arg: { seed: number }): Promise<BackwardVerifyReport> {
  const rng = createRng(caseSeed(arg.seed, 'backward verify'));
  // Large means and a relu: the hardest case for verify mode's tolerance (terms near 1e4, and
  // elements whose output is within rounding of 0).
  const shape = [64, 6, 5];
  const x = normals(rng, 64 * 6 * 5, 1e4, 1);
  const dy = normals(rng, x.length, 0, 1);
  const opts = { shape, activation: 'relu' as const, gamma: normals(rng, 6, 1, 0.5), beta: normals(rng, 6, 0, 0.5) };
  const bn = await createBatchNorm({ backend: 'webgpu', verify: true });
  const original = GPUCommandEncoder.prototype.copyBufferToBuffer;
  try {
    const saved = await bn.forwardTrain(x, opts);
    await bn.backward(dy, x, opts, saved);
    const running = { runningMean: saved.mean, runningVar: saved.variance };
    const y = await bn.forwardInference(x, { ...opts, ...running });
    await bn.backward(dy, x, { ...opts, mode: 'eval', ...running }, { y });
    let corrupted = false;
    GPUCommandEncoder.prototype.copyBufferToBuffer = function (this: GPUCommandEncoder, ...args: unknown[]) {
      const [source, sourceOffset, destination, destinationOffset, size] = args as [GPUBuffer, number, GPUBuffer, number, number];
      if (!corrupted && typeof sourceOffset === 'number') {
        corrupted = true;
        return original.call(this, source, sourceOffset + 4, destination, destinationOffset, size - 4);
      }
      return (original as (...a: unknown[]) => void).apply(this, args);
    } as typeof original;
    try {
      await bn.backward(dy, x, opts, saved);
      return { cleanRunPassed: true, corruptedCode: null, corruptedMessage: null };
    } catch (error) {
      if (!(error instanceof BatchNormError)) throw error;
      return { cleanRunPassed: true, corruptedCode: error.code, corruptedMessage: error.message };
    }
  } finally {
    GPUCommandEncoder.prototype.copyBufferToBuffer = original;
    bn.dispose();
  }
}

export interface BackwardValidationReport {
  /** Error code (or 'no error') per bad call. */
  codes: Record<string, string>;
  /** GPU validation error after finishing and submitting the encoder the bad calls were given. */
  gpuError: string | null;
}

export async function runBackwardValidationCase(): Promise<BackwardValidationReport> {
  const bn = await createBatchNorm({ backend: 'webgpu' });
  const gpu = bn.gpu!;
  const device = gpu.device;
  const shape = [4, 3, 5];
  const N = 60;
  const made: GPUBuffer[] = [];
  const buffer = (label: string, length: number) => {
    const b = storageBuffer(device, label, new Float32Array(length));
    made.push(b);
    return b;
  };
  const good: GpuBackwardArgs = { shape, dy: buffer('dy', N), x: buffer('x', N), dx: buffer('dx', N), stats: buffer('stats', 15), gamma: buffer('gamma', 3), dgamma: buffer('dgamma', 3), dbeta: buffer('dbeta', 3) };
  // Exact byte sizes (storageBuffer rounds up to 16 bytes).
  const raw = (label: string, bytes: number) => {
    const b = device.createBuffer({ label: `test.${label}`, size: bytes, usage: GPUBufferUsage.STORAGE });
    made.push(b);
    return b;
  };
  const uniformOnly = device.createBuffer({ label: 'test.uniform', size: N * 4, usage: GPUBufferUsage.UNIFORM });
  made.push(uniformOnly);
  const bad: Record<string, Partial<GpuBackwardArgs> & Record<string, unknown>> = {
    'unknown mode': { mode: 'inference' as never },
    'dx too small': { dx: raw('small', N * 4 - 4) },
    'dx aliases dy': { dx: good.dy },
    'dx aliases x': { dx: good.x },
    'dgamma aliases dbeta': { dgamma: good.dbeta },
    'dgamma aliases stats': { dgamma: good.stats },
    'stats holds 4·C values': { stats: raw('stats4', 4 * 3 * 4) },
    'gamma holds C − 1 values': { gamma: raw('gamma2', 2 * 4) },
    'dy without STORAGE usage': { dy: uniformOnly },
    'dx not a buffer': { dx: new Float32Array(N) as never },
    'accumulate not a boolean': { accumulate: 'yes' as never },
    'M = 1 in training': { shape: [1, 3, 1] },
    'unknown layout': { layout: 'NWHC' as never },
    'relu without y': { activation: 'relu' },
    'relu, y aliases dx': { activation: 'relu', y: good.dx },
    'relu, y too small': { activation: 'relu', y: raw('ySmall', N * 4 - 4) },
    'x and dy one buffer (allowed)': { dy: good.x },
    'relu, y is x (allowed)': { activation: 'relu', y: good.x },
    'M = 1 in eval (allowed)': { shape: [1, 3, 1], mode: 'eval' },
  };
  const codes: Record<string, string> = {};
  device.pushErrorScope('validation');
  const encoder = device.createCommandEncoder({ label: 'test.backward.validation' });
  for (const [name, change] of Object.entries(bad)) {
    try {
      // Only the bad calls go into this encoder; the allowed ones get their own.
      const allowed = name.endsWith('(allowed)');
      const target = allowed ? device.createCommandEncoder({ label: 'test.backward.allowed' }) : encoder;
      gpu.encodeBackward(target, { ...good, ...change } as GpuBackwardArgs);
      if (allowed) device.queue.submit([target.finish()]);
      codes[name] = 'no error';
    } catch (error) {
      codes[name] = error instanceof BatchNormError ? error.code : `not a BatchNormError: ${String(error)}`;
    }
  }
  // Every rejected call threw before beginning a pass: the encoder is still valid and empty.
  device.queue.submit([encoder.finish()]);
  const gpuError = await device.popErrorScope();
  for (const b of made) b.destroy();
  bn.dispose();
  return { codes, gpuError: gpuError ? gpuError.message : null };
}
