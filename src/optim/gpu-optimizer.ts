import { BatchNormError } from '../errors';
import { unsupportedReason } from '../gpu/device';
import { GpuErrorLog } from '../gpu/gpu-errors';
import { getPipeline } from '../gpu/pipelines';
import { packParams } from '../gpu/uniforms';
import { readOptimizerState } from './gpu-state';
import { optimizerKernel, type OptimizerKernel } from './gpu-kernels';
import { checkParamArgs, createGpuParam, type GpuParam, type ParamContext } from './gpu-param';
import { checkLearningRate, resolveOptimizerOptions } from './options';
import { checkImportedState } from './state-check';
import { stateNames } from './state-names';
import { StepCounters } from './step-counters';
import { resolveOptimizerTuning, type GpuOptimizerTuning } from './tuning';
import type { OptimizerOptions, OptimizerState, ResolvedOptimizerOptions } from './types';

/**
 * An optimizer whose parameters, gradients and state stay on the GPU. Per parameter, addParam makes
 * everything a step needs (state buffers, a uniform, bind groups); encodeStep then only records
 * dispatches into the caller's encoder: one per parameter segment and one that advances the step
 * counts, which live on the GPU. In steady state a step creates no GPU object at all.
 * The device work of each call runs inside error scopes; what they catch (a validation error, an
 * allocation out of memory) is reported by checkErrors(), as for the engine's encode… calls.
 */
export class GpuOptimizer {
  readonly device: GPUDevice;
  /** The launch tuning it was created with (a TrainingMirror rebuilds it the same way). */
  readonly tuning: GpuOptimizerTuning | undefined;
  private readonly resolved: ResolvedOptimizerOptions;
  private readonly kernel: OptimizerKernel;
  private readonly context: ParamContext;
  private readonly counters: StepCounters;
  private readonly placeholders = new Map<string, GPUBuffer>();
  private readonly params: GpuParam[] = [];
  private learningRate: number;
  private destroyed = false;
  private readonly errors = new GpuErrorLog();

  constructor(device: GPUDevice, options: OptimizerOptions, tuning?: GpuOptimizerTuning) {
    // Everything is validated before the first GPU object is made.
    this.resolved = resolveOptimizerOptions(options);
    if (device === null || typeof device !== 'object' || typeof device.createBuffer !== 'function') {
      throw new BatchNormError('invalid-option', 'createGpuOptimizer needs a GPUDevice');
    }
    const unsupported = unsupportedReason(device.limits);
    if (unsupported) throw new BatchNormError('unsupported-device', `createGpuOptimizer: this GPUDevice cannot run the optimizer kernels: ${unsupported}`);
    const { workgroupSize, segmentLength } = resolveOptimizerTuning(device, tuning);
    this.device = device;
    this.tuning = tuning;
    this.learningRate = this.resolved.lr;
    this.kernel = optimizerKernel(this.resolved);
    const states = stateNames(this.resolved);
    const unbound = states.filter((name) => !this.kernel.storage.includes(name));
    if (unbound.length > 0) throw new Error(`${this.kernel.shader.name}.wgsl has no binding for ${unbound.join(', ')}`);
    const label = `BatchNorm.optim.${this.resolved.kind}`;
    this.counters = new StepCounters(device, label);
    this.context = {
      device,
      label,
      kernel: this.kernel,
      pipeline: getPipeline(device, this.kernel.shader, this.kernel.entryPoint, { WORKGROUP_SIZE: workgroupSize, ...this.kernel.constants }),
      workgroupSize,
      segmentLength,
      states,
      placeholder: (name) => this.placeholder(name),
    };
  }

  /** The hyper-parameters, with the current learning rate. */
  get options(): ResolvedOptimizerOptions {
    return { ...this.resolved, lr: this.learningRate };
  }

  get lr(): number {
    return this.learningRate;
  }

  /**
   * Registers `length` float32 values of `param` (updated in place) with their gradient `grad`
   * (read only), both STORAGE buffers of at least length·4 bytes. Checks everything first.
   */
  addParam(param: GPUBuffer, grad: GPUBuffer, length: number, label = `param${this.params.length}`): void {
    this.checkAlive();
    checkParamArgs(param, grad, length, label, this.params);
    // A parameter whose GPU objects failed (e.g. a buffer of another device) is dropped again when
    // the scopes report it, so that later steps stay valid; checkErrors() names it.
    this.errors.capture(
      this.device,
      `addParam(${label}) (not registered)`,
      () => {
        const counter = this.counters.allocate();
        const added = createGpuParam(this.context, { param, grad, length, label, lr: this.learningRate, counter });
        this.params.push(added);
        return added;
      },
      (failed) => this.drop(failed),
    );
  }

  /** Records one step of every registered parameter into `encoder` (one compute pass, no submit). */
  encodeStep(encoder: GPUCommandEncoder): void {
    this.checkAlive();
    if (this.params.length === 0) return;
    this.errors.capture(this.device, 'encodeStep', () => {
      const pass = encoder.beginComputePass({ label: `${this.context.label}.step` });
      pass.setPipeline(this.context.pipeline);
      for (const p of this.params) {
        for (const segment of p.segments) {
          pass.setBindGroup(0, segment.bindGroup);
          pass.dispatchWorkgroups(segment.grid[0], segment.grid[1]);
        }
      }
      // Dispatches in a pass run in order with their writes visible: t advances after every update.
      this.counters.encode(pass);
      pass.end();
    });
  }

  /**
   * Resolves once the GPU has reported on every call so far; rejects with one 'gpu-error' listing
   * what the error scopes caught (e.g. a parameter buffer of another device), and forgets it.
   */
  checkErrors(): Promise<void> {
    return this.errors.check();
  }

  /**
   * Sets the learning rate of the steps submitted after this call (it rewrites the uniforms with
   * queue.writeBuffer, which is ordered before later submits; a step already encoded but not yet
   * submitted uses the new rate too).
   */
  setLearningRate(lr: number): void {
    this.checkAlive();
    this.learningRate = checkLearningRate(this.resolved.kind, lr);
    this.errors.capture(this.device, 'setLearningRate', () => {
      for (const p of this.params) {
        this.device.queue.writeBuffer(p.uniform, 0, packParams(this.kernel.shader, this.kernel.params(this.learningRate, p.counter.slot)));
      }
    });
  }

  /** Reads the state tensors and step counts back, after the work submitted so far. */
  async exportState(): Promise<OptimizerState> {
    this.checkAlive();
    return readOptimizerState(this.device, this.context.label, this.options, this.params);
  }

  /** Writes a state dict (see checkImportedState) into the optimizer's buffers, for later submits. */
  importState(state: OptimizerState): void {
    this.checkAlive();
    const lr = checkImportedState(state, this.resolved, this.params.map((p) => p.length));
    state.params.forEach((saved, index) => {
      const p = this.params[index];
      for (const [name, buffer] of p.states) this.device.queue.writeBuffer(buffer, 0, saved.buffers[name] as Float32Array<ArrayBuffer>);
      this.counters.write(p.counter, saved.step);
    });
    this.setLearningRate(lr);
  }

  /** @internal The registered parameters, in order, with their state buffers and step counters. */
  registered(): readonly GpuParam[] {
    this.checkAlive();
    return this.params;
  }

  /** GPU buffers this optimizer owns (states, uniforms, step counters, placeholders). */
  get liveBuffers(): number {
    return this.params.reduce((n, p) => n + 1 + p.states.size, 0) + this.counters.count + this.placeholders.size;
  }

  /** Destroys the optimizer's own buffers; the parameters and gradients belong to the caller. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const p of this.params) {
      p.uniform.destroy();
      for (const buffer of p.states.values()) buffer.destroy();
    }
    this.params.length = 0;
    this.counters.destroy();
    for (const buffer of this.placeholders.values()) buffer.destroy();
    this.placeholders.clear();
  }

  private drop(failed: GpuParam): void {
    const index = this.params.indexOf(failed);
    if (index < 0) return;
    this.params.splice(index, 1);
    failed.uniform.destroy();
    for (const buffer of failed.states.values()) buffer.destroy();
  }

  private placeholder(name: string): GPUBuffer {
    let buffer = this.placeholders.get(name);
    if (!buffer) {
      // Distinct per binding: two writable bindings of one dispatch may not alias.
      buffer = this.device.createBuffer({ label: `${this.context.label}.unused.${name}`, size: 16, usage: GPUBufferUsage.STORAGE });
      this.placeholders.set(name, buffer);
    }
    return buffer;
  }

  private checkAlive(): void {
    if (this.destroyed) throw new BatchNormError('disposed', `${this.context.label}: the optimizer was destroyed`);
  }
}

/** An optimizer on a device the caller owns (e.g. `bn.gpu.device`); see GpuOptimizer. */
export function createGpuOptimizer(device: GPUDevice, options: OptimizerOptions, tuning?: GpuOptimizerTuning): GpuOptimizer {
  return new GpuOptimizer(device, options, tuning);
}

