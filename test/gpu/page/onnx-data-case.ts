/**
 * ONNX's BatchNormalization test data on the GPU (test/gpu/onnx-data.test.ts reads the files and
 * sends each case here): encodeForwardInference on the engine's device, into a y buffer poisoned
 * with NaN first, and forwardInference (the host-array API) on the same case.
 */
import type { NormForwardResult } from '../../../src/norms/norm-types';
import type { OnnxBatchNormCase, OnnxNormCase } from '../../support/onnx-proto';
import { onnxNormCall } from '../../support/onnx-norm-check';
import { engineFor } from './case-engines';
import { readBuffer, storageBuffer } from './gpu-buffers';

export async function runOnnxDataCase(c: OnnxBatchNormCase): Promise<{ resident: Float32Array; host: Float32Array; backend: string }> {
  const bn = await engineFor(undefined);
  const options = { shape: c.shape, layout: c.layout, convention: 'onnx' as const, eps: c.eps };
  const device = bn.gpu!.device;
  const buffers = {
    x: storageBuffer(device, 'test.onnx.x', c.x),
    y: storageBuffer(device, 'test.onnx.y', new Float32Array(c.x.length).fill(NaN)),
    gamma: storageBuffer(device, 'test.onnx.gamma', c.gamma),
    beta: storageBuffer(device, 'test.onnx.beta', c.beta),
    runningMean: storageBuffer(device, 'test.onnx.runningMean', c.runningMean),
    runningVar: storageBuffer(device, 'test.onnx.runningVar', c.runningVar),
  };
  try {
    const encoder = device.createCommandEncoder({ label: 'test.onnx.encoder' });
    bn.gpu!.encodeForwardInference(encoder, { ...options, ...buffers });
    device.queue.submit([encoder.finish()]);
    const resident = await readBuffer(device, buffers.y, c.x.length);
    const host = await bn.forwardInference(c.x, { ...options, gamma: c.gamma, beta: c.beta, runningMean: c.runningMean, runningVar: c.runningVar });
    return { resident, host, backend: bn.backend };
  } finally {
    for (const buffer of Object.values(buffers)) buffer.destroy();
  }
}

/**
 * ONNX's layer, RMS, group and instance norm test data (test/gpu/norms-onnx-data.test.ts): the
 * host-array call on the engine's GPU kernels, in ONNX's convention (onnx-norm-check.ts maps the
 * case to its call); the test checks the outputs against ONNX's.
 */
export async function runOnnxNormCase(c: OnnxNormCase): Promise<{ out: NormForwardResult; backend: string; kernels: boolean }> {
  const bn = await engineFor(undefined);
  const { method, options } = onnxNormCall(c);
  const out = await (bn.norms[method] as (x: Float32Array, o: unknown) => Promise<NormForwardResult>)(c.x, options);
  return { out, backend: bn.backend, kernels: bn.gpu?.norms !== undefined };
}
