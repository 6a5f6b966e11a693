/**
 * Proves verify mode catches a wrong GPU result: the readback copy of y is shifted by one element
 * (the kind of off-by-one a broken kernel makes) while everything else runs normally.
 */
import { BatchNormError, createBatchNorm } from '../../../src/index';
import { createRng, normals } from '../../support/random';

export interface VerifyReport {
  cleanRunPassed: boolean;
  corruptedCode: string | null;
  corruptedMessage: string | null;
}

export async function runVerifyCase(arg: { seed: number }): Promise<VerifyReport> {
  const rng = createRng(arg.seed);
  const shape = [64, 6, 5];
  const x = normals(rng, 64 * 6 * 5, 3, 2);
  const bn = await createBatchNorm({ backend: 'webgpu', verify: true });
  const original = GPUCommandEncoder.prototype.copyBufferToBuffer;
  try {
    await bn.forwardTrain(x, { shape });
    // A residual with relu, forward and backward, passes verify mode too (z in y's magnitude, dz exact).
    const residualOpts = { shape, activation: 'relu' as const, residual: normals(rng, x.length, 0, 1) };
    const out = await bn.forwardTrain(x, residualOpts);
    await bn.backward(normals(rng, x.length, 0, 1), x, residualOpts, out);
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
      await bn.forwardTrain(x, { shape });
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
