import { BatchNormError } from '../errors';
import { cpuStep, type CpuSlot } from './cpu-rules';
import { checkLearningRate, resolveOptimizerOptions } from './options';
import { checkImportedState } from './state-check';
import { stateNames } from './state-names';
import type { OptimizerOptions, OptimizerState, ResolvedOptimizerOptions } from './types';

interface CpuParam extends CpuSlot {
  label: string;
}

function overlaps(a: Float32Array, b: Float32Array): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

/**
 * The CPU counterpart of GpuOptimizer: the same options, formulas and state dicts, on Float32Array
 * parameters and gradients updated in place (float64 arithmetic, float32 storage; see cpu-rules.ts).
 */
export class CpuOptimizer {
  private readonly resolved: ResolvedOptimizerOptions;
  private readonly params: CpuParam[] = [];
  private learningRate: number;

  constructor(options: OptimizerOptions) {
    this.resolved = resolveOptimizerOptions(options);
    this.learningRate = this.resolved.lr;
  }

  /** The hyper-parameters, with the current learning rate. */
  get options(): ResolvedOptimizerOptions {
    return { ...this.resolved, lr: this.learningRate };
  }

  get lr(): number {
    return this.learningRate;
  }

  /** Registers a parameter and its gradient (read at every step, never written). */
  addParam(param: Float32Array, grad: Float32Array, label = `param${this.params.length}`): void {
    if (!(param instanceof Float32Array) || !(grad instanceof Float32Array)) {
      throw new BatchNormError('invalid-buffer', `${label}: param and grad must be Float32Arrays`);
    }
    if (param.length === 0) throw new BatchNormError('invalid-buffer', `${label}: param is empty`);
    if (grad.length !== param.length) {
      throw new BatchNormError('length-mismatch', `${label}: grad has ${grad.length} values, param ${param.length}`);
    }
    if (overlaps(param, grad)) throw new BatchNormError('invalid-buffer', `${label}: param and grad share memory`);
    const clash = this.params.find((p) => overlaps(p.param, param));
    if (clash) throw new BatchNormError('invalid-buffer', `${label}: shares memory with the registered parameter ${clash.label}`);
    const buffers = Object.fromEntries(stateNames(this.resolved).map((name) => [name, new Float32Array(param.length)]));
    this.params.push({ label, param, grad, step: 0, buffers });
  }

  /** One optimizer step over every registered parameter. */
  step(): void {
    for (const p of this.params) {
      cpuStep(this.resolved, this.learningRate, p);
      p.step += 1;
    }
  }

  setLearningRate(lr: number): void {
    this.learningRate = checkLearningRate(this.resolved.kind, lr);
  }

  exportState(): OptimizerState {
    return {
      options: this.options,
      params: this.params.map((p) => ({
        label: p.label,
        length: p.param.length,
        step: p.step,
        buffers: Object.fromEntries(Object.entries(p.buffers).map(([name, values]) => [name, values.slice()])),
      })),
    };
  }

  importState(state: OptimizerState): void {
    const lengths = this.params.map((p) => p.param.length);
    const lr = checkImportedState(state, this.resolved, lengths);
    state.params.forEach((saved, index) => {
      const p = this.params[index];
      p.step = saved.step;
      for (const [name, values] of Object.entries(p.buffers)) values.set(saved.buffers[name as keyof typeof p.buffers]!);
    });
    this.learningRate = lr;
  }
}

export function createCpuOptimizer(options: OptimizerOptions): CpuOptimizer {
  return new CpuOptimizer(options);
}
