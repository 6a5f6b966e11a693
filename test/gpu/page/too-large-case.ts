/**
 * Tensors the device cannot take are refused with a 'too-large' BatchNormError before anything is
 * uploaded: larger than maxBufferSize (a device left at WebGPU's default 256 MiB), or a row of
 * channels wider than one binding (which slabs cannot split). The engine stays usable after.
 */
import { BatchNormError, createBatchNorm } from '../../../src/index';

export interface TooLargeReport {
  maxBufferSize: number;
  refusals: { what: string; code: string; message: string; buffersCreated: number }[];
  usableAfter: boolean;
}

async function refusal(what: string, device: GPUDevice, work: () => Promise<unknown>): Promise<TooLargeReport['refusals'][number]> {
  let created = 0;
  const createBuffer = device.createBuffer.bind(device);
  device.createBuffer = (descriptor) => {
    created++;
    return createBuffer(descriptor);
  };
  try {
    await work();
    return { what, code: 'none', message: 'no error', buffersCreated: created };
  } catch (error) {
    return { what, code: error instanceof BatchNormError ? error.code : String(error), message: (error as Error).message, buffersCreated: created };
  } finally {
    device.createBuffer = createBuffer;
  }
}

export async function runTooLargeCase(): Promise<TooLargeReport> {
  const adapter = await navigator.gpu?.requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter');
  const device = await adapter.requestDevice({ label: 'test.tooLarge.device' });
  const bn = await createBatchNorm({ backend: 'webgpu', device });
  const capped = await createBatchNorm({ backend: 'webgpu', device, tuning: { maxBindingBytes: 1024 } });
  try {
    const { maxBufferSize } = device.limits;
    // One value more than the largest buffer holds.
    const values = maxBufferSize / 4 + 4;
    const x = new Float32Array(values);
    const refusals = [
      await refusal('forwardTrain larger than maxBufferSize', device, () => bn.forwardTrain(x, { shape: [values / 4, 4] })),
      await refusal('forwardInference larger than maxBufferSize', device, () =>
        bn.forwardInference(x, { shape: [values / 4, 4], runningMean: new Float32Array(4), runningVar: new Float32Array(4).fill(1) }),
      ),
      await refusal('backward larger than maxBufferSize', device, () => bn.backward(x, x, { shape: [values / 4, 4] }, { mean: new Float32Array(4), invStd: new Float32Array(4).fill(1) })),
      await refusal('a row of 300 channels wider than a 1 KiB binding', device, () => capped.forwardTrain(new Float32Array(600), { shape: [2, 300] })),
    ];
    const y = await bn.forwardTrain(new Float32Array([1, 2, 3, 4]), { shape: [2, 2] });
    return { maxBufferSize, refusals, usableAfter: bn.backend === 'webgpu' && y.y.length === 4 && Math.abs(y.y[0] + 1) < 1e-2 };
  } finally {
    bn.dispose();
    capped.dispose();
    device.destroy();
  }
}
