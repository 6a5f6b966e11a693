/**
 * Bad hyper-parameters, buffers and states given to the GPU optimizer: each must be rejected with
 * its BatchNormError code before any GPU object is created or any buffer written.
 */
import { BatchNormError, createCpuOptimizer, createGpuOptimizer, type OptimizerOptions } from '../../../src/index';
import { type GpuOptimizerTuning } from '../../../src/advanced';
import { pipelineCount } from '../../../src/gpu/pipelines';
import { readBuffer, storageBuffer } from './gpu-buffers';
import { countedDevice, scoped } from './optimizer-device';

export interface Rejection {
  what: string;
  code: string;
  /** GPU buffers and bind groups created, and pipelines built, by the rejected call. */
  created: number;
}

export interface ValidationReport {
  rejections: Rejection[];
  /** Every registered parameter buffer reads back exactly as uploaded after the rejected calls. */
  paramsUntouched: boolean;
  lrAfterRejectedChange: number;
  /** A step after the rejected calls still matches the CPU optimizer (which saw the same calls). */
  stepMatchesCpu: boolean;
  stateAfterRejectedImport: 'unchanged' | 'changed';
  afterDestroy: string;
  gpuErrors: string[];
}

function codeOf(action: () => unknown): string {
  try {
    action();
    return 'accepted';
  } catch (error) {
    return error instanceof BatchNormError ? error.code : `not a BatchNormError: ${String(error)}`;
  }
}

const badOptions: [string, OptimizerOptions][] = [
  ['lr < 0', { kind: 'sgd', lr: -1 }],
  ['nesterov without momentum', { kind: 'sgd', nesterov: true }],
  ['beta2 = 1', { kind: 'adam', betas: [0.9, 1] }],
  ['eps = 0', { kind: 'adamw', eps: 0 }],
  ['alpha > 1', { kind: 'rmsprop', alpha: 2 }],
  ['weightDecay NaN', { kind: 'rmsprop', weightDecay: NaN }],
  ['unknown option', { kind: 'adam', beta1: 0.9 } as never],
];

const badTuning: [string, GpuOptimizerTuning][] = [
  ['workgroupSize 3', { workgroupSize: 3 }],
  ['workgroupSize 4096', { workgroupSize: 4096 }],
  ['maxBindingBytes 100', { maxBindingBytes: 100 }],
];

export async function runOptimizerValidation(arg: { seed: number }): Promise<ValidationReport> {
  const { device, counts } = await countedDevice();
  const { result, gpuErrors } = await scoped(device, async () => {
    const rejections: Rejection[] = [];
    const attempt = (what: string, action: () => unknown) => {
      const before = counts.buffers + counts.bindGroups + pipelineCount(device);
      const code = codeOf(action);
      rejections.push({ what, code, created: counts.buffers + counts.bindGroups + pipelineCount(device) - before });
    };
    for (const [what, options] of badOptions) attempt(`options: ${what}`, () => createGpuOptimizer(device, options));
    for (const [what, tuning] of badTuning) attempt(`tuning: ${what}`, () => createGpuOptimizer(device, { kind: 'sgd' }, tuning));

    const values = Float32Array.from({ length: 13 }, (_, i) => Math.sin(arg.seed + i));
    const gradValues = Float32Array.from({ length: 13 }, (_, i) => Math.cos(arg.seed + 2 * i));
    const param = storageBuffer(device, 'validation.param', values);
    const grad = storageBuffer(device, 'validation.grad', gradValues);
    const other = storageBuffer(device, 'validation.other', values);
    const small = storageBuffer(device, 'validation.small', new Float32Array(4));
    const noStorage = device.createBuffer({ label: 'test.validation.noStorage', size: 64, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC });
    const options: OptimizerOptions = { kind: 'adam', lr: 0.1, amsgrad: true };
    const opt = createGpuOptimizer(device, options);
    const cpuParam = values.slice();
    const cpu = createCpuOptimizer(options);
    opt.addParam(param, grad, 13, 'p');
    cpu.addParam(cpuParam, gradValues, 'p');

    attempt('addParam: param without STORAGE usage', () => opt.addParam(noStorage, grad, 13));
    attempt('addParam: grad without STORAGE usage', () => opt.addParam(other, noStorage, 13));
    attempt('addParam: param smaller than length', () => opt.addParam(small, grad, 13));
    attempt('addParam: grad smaller than length', () => opt.addParam(other, small, 13));
    attempt('addParam: param is grad', () => opt.addParam(other, other, 13));
    attempt('addParam: already registered', () => opt.addParam(param, other, 13));
    attempt('addParam: param is a registered gradient', () => opt.addParam(grad, other, 13));
    attempt('addParam: not a buffer', () => opt.addParam({} as GPUBuffer, grad, 13));
    attempt('addParam: length 0', () => opt.addParam(other, grad, 0));
    attempt('addParam: length 2.5', () => opt.addParam(other, grad, 2.5));
    attempt('setLearningRate(-1)', () => opt.setLearningRate(-1));
    attempt('setLearningRate(NaN)', () => opt.setLearningRate(NaN));
    const lrAfterRejectedChange = opt.lr;

    const good = await opt.exportState();
    const bad = { ...good, params: [{ ...good.params[0], buffers: { ...good.params[0].buffers, maxExpAvgSq: undefined } }] };
    attempt('importState: missing maxExpAvgSq', () => opt.importState(bad as never));
    attempt('importState: another configuration', () => opt.importState({ ...good, options: { ...good.options, amsgrad: false } as never }));
    attempt('importState: wrong length', () => opt.importState({ ...good, params: [{ ...good.params[0], length: 12 }] }));
    const afterImport = await opt.exportState();
    const stateAfterRejectedImport = JSON.stringify(afterImport) === JSON.stringify(good) ? 'unchanged' : 'changed';

    const paramsUntouched = (await readBuffer(device, param, 13)).every((v, i) => Object.is(v, values[i]));
    const encoder = device.createCommandEncoder({ label: 'test.validation.step' });
    opt.encodeStep(encoder);
    device.queue.submit([encoder.finish()]);
    cpu.step();
    const stepped = await readBuffer(device, param, 13);
    // One step from identical state: only float32 rounding (a few ulps of |p| + lr) can differ.
    const stepMatchesCpu = stepped.every((v, i) => Math.abs(v - cpuParam[i]) <= 1e-6 * (Math.abs(cpuParam[i]) + 0.1));

    opt.destroy();
    const afterDestroy = codeOf(() => opt.encodeStep(device.createCommandEncoder({ label: 'test.validation.afterDestroy' })));
    for (const buffer of [param, grad, other, small, noStorage]) buffer.destroy();
    return { rejections, paramsUntouched, lrAfterRejectedChange, stepMatchesCpu, stateAfterRejectedImport, afterDestroy } as const;
  });
  return { ...result, gpuErrors };
}
