/**
 * Device loss: the engine notices, says so (event + backend), and later calls run on the CPU path
 * with correct results. A caller's device is used but never destroyed by dispose().
 */
import { createBatchNorm, type DeviceLostDetail } from '../../../src/index';
import { maxErrors } from '../../support/compare';
import { createRng, normals } from '../../support/random';
import { referenceForwardTrain } from '../../support/reference';

export interface DeviceLostReport {
  backendBefore: string;
  backendAfter: string;
  events: DeviceLostDetail[];
  errInFlight: number;
  errAfterLoss: number;
  runningVarErr: number;
  borrowedBackend: string;
  borrowedAliveAfterDispose: boolean;
  cpuBackend: string;
}

export async function runDeviceLostCase(arg: { seed: number }): Promise<DeviceLostReport> {
  const rng = createRng(arg.seed);
  const shape = [32, 5, 7];
  const x = normals(rng, 32 * 5 * 7, 1, 2);
  const opts = { shape, runningMean: new Float32Array(5), runningVar: new Float32Array(5).fill(1) };
  const bn = await createBatchNorm({ backend: 'webgpu' });
  const events: DeviceLostDetail[] = [];
  bn.addEventListener('devicelost', (event) => events.push((event as CustomEvent<DeviceLostDetail>).detail));
  await bn.forwardTrain(x, opts);
  const backendBefore = bn.backend;
  // A call in flight when the device goes: it is redone on the CPU path.
  const inFlight = bn.forwardTrain(x, opts);
  bn.gpu!.device.destroy();
  const during = await inFlight;
  // device.lost resolves asynchronously; give it a turn of the event loop.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const after = await bn.forwardTrain(x, opts);
  const ref = referenceForwardTrain(x, { shape, eps: 1e-5, momentum: 0.1, convention: 'pytorch', activation: 'none', runningMean: opts.runningMean, runningVar: opts.runningVar });
  const report = {
    backendBefore,
    backendAfter: bn.backend,
    events,
    errInFlight: maxErrors(during.y, ref.y).maxAbs,
    errAfterLoss: maxErrors(after.y, ref.y).maxAbs,
    runningVarErr: maxErrors(after.runningVar!, ref.runningVar!).maxRel,
  };
  bn.dispose();

  // A borrowed device survives dispose().
  const adapter = await navigator.gpu.requestAdapter();
  const device = await adapter!.requestDevice();
  const borrowed = await createBatchNorm({ device });
  await borrowed.forwardTrain(x, opts);
  const borrowedBackend = borrowed.backend;
  borrowed.dispose();
  let borrowedAliveAfterDispose = true;
  device.pushErrorScope('validation');
  device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE }).destroy();
  if (await device.popErrorScope()) borrowedAliveAfterDispose = false;
  const lost = await Promise.race([device.lost.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 50))]);
  if (lost) borrowedAliveAfterDispose = false;
  device.destroy();

  const cpu = await createBatchNorm({ backend: 'cpu' });
  return { ...report, borrowedBackend, borrowedAliveAfterDispose, cpuBackend: cpu.backend };
}
