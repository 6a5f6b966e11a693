/**
 * GPU errors become BatchNormErrors('gpu-error') with WebGPU's message, and one failed call leaves
 * the engine usable:
 * - a host-array call whose 1 GiB upload buffer cannot be allocated (SwiftShader refuses single
 *   allocations of 1 GiB: a real out-of-memory error) rejects, while a normal call running
 *   concurrently on the same engine succeeds, and so do later calls;
 * - a GPU-resident call whose statistics buffer (and the engine's scratch for it) cannot be
 *   allocated reports it through checkErrors(); a buffer of another device gives a validation
 *   error the same way; the engine then still computes correctly;
 * - an optimizer given a parameter buffer of another device reports the validation error through its
 *   checkErrors(), drops that parameter, and steps the others correctly.
 */
import { BatchNormError, createBatchNorm, createGpuOptimizer } from '../../../src/index';
import { readBuffer, storageBuffer } from './gpu-buffers';

export interface GpuErrorsReport {
  /** Whether this adapter refuses a single 1 GiB allocation (SwiftShader does); if not, no OOM case ran. */
  oomReproducible: boolean;
  host: { code: string; message: string; concurrentOk: boolean; afterOk: boolean; poolBuffersAfter: number };
  resident: { oomCode: string; oomMessage: string; validationCode: string; validationMessage: string; afterOk: boolean; cleanCheck: string };
  optimizer: { code: string; message: string; registered: number; stepOk: boolean; cleanCheck: string };
}

async function outcome(work: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await work;
    return { code: 'accepted', message: '' };
  } catch (error) {
    return error instanceof BatchNormError ? { code: error.code, message: error.message } : { code: `not a BatchNormError: ${String(error)}`, message: '' };
  }
}

const close = (a: ArrayLike<number>, b: ArrayLike<number>) => a.length === b.length && Array.from(a).every((v, i) => Math.abs(v - b[i]) <= 1e-5 * (1 + Math.abs(b[i])));

/** Does this device refuse one buffer of 1 GiB with a real out-of-memory error? */
async function refusesOneGiB(device: GPUDevice): Promise<boolean> {
  device.pushErrorScope('out-of-memory');
  device.createBuffer({ label: 'test.oomProbe', size: 2 ** 30, usage: GPUBufferUsage.STORAGE }).destroy();
  return (await device.popErrorScope()) !== null;
}

export async function runGpuErrorsCase(): Promise<GpuErrorsReport> {
  const bn = await createBatchNorm({ backend: 'webgpu' });
  if (!(await refusesOneGiB(bn.gpu!.device))) {
    bn.dispose();
    const none = { code: '', message: '' };
    return {
      oomReproducible: false,
      host: { ...none, concurrentOk: false, afterOk: false, poolBuffersAfter: 0 },
      resident: { oomCode: '', oomMessage: '', validationCode: '', validationMessage: '', afterOk: false, cleanCheck: '' },
      optimizer: { ...none, registered: 0, stepOk: false, cleanCheck: '' },
    };
  }
  const cpu = await createBatchNorm({ backend: 'cpu' });
  const small = Float32Array.from({ length: 40 }, (_, i) => Math.sin(i) * 3 + (i % 4));
  const opts = { shape: [10, 4], runningMean: new Float32Array(4), runningVar: new Float32Array(4).fill(1) };
  const expected = await cpu.forwardTrain(small, opts);

  // Host-array call: 2^28 values, a 1 GiB upload buffer.
  let huge: Float32Array | undefined = new Float32Array(2 ** 28);
  const [failed, concurrent] = await Promise.allSettled([bn.forwardTrain(huge, { shape: [2 ** 27, 2] }), bn.forwardTrain(small, opts)]);
  huge = undefined;
  const host = await outcome(failed.status === 'fulfilled' ? Promise.resolve() : Promise.reject(failed.reason));
  const concurrentOk = concurrent.status === 'fulfilled' && close(concurrent.value.y, expected.y) && close(concurrent.value.runningVar!, expected.runningVar!);
  const after = await bn.forwardTrain(small, opts);
  const afterOk = close(after.y, expected.y) && bn.backend === 'webgpu';

  // GPU-resident: 53 687 091 channels need a 1 073 741 820-byte statistics buffer.
  const kernels = bn.gpu!;
  const device = kernels.device;
  const C = 53_687_091;
  const raw = (label: string, bytes: number) => device.createBuffer({ label: `test.${label}`, size: bytes, usage: GPUBufferUsage.STORAGE });
  const big = { x: raw('x', 8 * C), y: raw('y', 8 * C), gamma: raw('gamma', 4 * C), beta: raw('beta', 4 * C) };
  kernels.encodeForwardTrain(device.createCommandEncoder({ label: 'test.oom' }), { shape: [2, C], layout: 'NC', ...big }); // never submitted
  const oom = await outcome(kernels.checkErrors());
  for (const buffer of Object.values(big)) buffer.destroy();

  const adapter = await navigator.gpu.requestAdapter();
  const other = await adapter!.requestDevice({ label: 'test.otherDevice' });
  const foreign = storageBuffer(other, 'foreign', small);
  const y = storageBuffer(device, 'y', new Float32Array(40));
  kernels.encodeForwardTrain(device.createCommandEncoder({ label: 'test.foreign' }), { ...opts, runningMean: undefined, runningVar: undefined, x: foreign, y });
  const validation = await outcome(kernels.checkErrors());

  // An optimizer: a foreign parameter is reported and dropped; the other one steps correctly.
  const sgd = createGpuOptimizer(device, { kind: 'sgd', lr: 0.5 });
  const foreignGrad = storageBuffer(other, 'foreignGrad', small);
  sgd.addParam(foreign, foreignGrad, 40, 'foreign');
  const param = storageBuffer(device, 'param', small);
  const grad = storageBuffer(device, 'grad', new Float32Array(40).fill(2));
  sgd.addParam(param, grad, 40, 'weight');
  const optimizerError = await outcome(sgd.checkErrors());
  const registered = sgd.registered().length;
  const step = device.createCommandEncoder({ label: 'test.optimizerStep' });
  sgd.encodeStep(step);
  device.queue.submit([step.finish()]);
  const stepped = await readBuffer(device, param, 40);
  const stepOk = close(stepped, small.map((v) => v - 0.5 * 2));
  const optimizerClean = (await outcome(sgd.checkErrors())).code;
  sgd.destroy();
  for (const buffer of [param, grad]) buffer.destroy();
  other.destroy();

  // The engine still works on the GPU-resident path, and checkErrors() is clean again.
  const x = storageBuffer(device, 'x', small);
  const encoder = device.createCommandEncoder({ label: 'test.after' });
  kernels.encodeForwardTrain(encoder, { shape: opts.shape, x, y });
  device.queue.submit([encoder.finish()]);
  const residentAfter = close(await readBuffer(device, y, 40), expected.y);
  const cleanCheck = (await outcome(kernels.checkErrors())).code;
  x.destroy();
  y.destroy();
  const poolBuffersAfter = kernels.liveBuffers;
  bn.dispose();
  return {
    oomReproducible: true,
    host: { code: host.code, message: host.message, concurrentOk, afterOk, poolBuffersAfter },
    resident: { oomCode: oom.code, oomMessage: oom.message, validationCode: validation.code, validationMessage: validation.message, afterOk: residentAfter, cleanCheck },
    optimizer: { code: optimizerError.code, message: optimizerError.message, registered, stepOk, cleanCheck: optimizerClean },
  };
}
