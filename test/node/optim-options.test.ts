import { describe, expect, it } from 'vitest';
import { BatchNormError, createCpuOptimizer, resolveOptimizerOptions, stateNames, type OptimizerOptions, type OptimizerState } from '../../src/index';
import { shaderBindings } from '../support/wgsl-declarations';
import { packParams } from '../../src/gpu/uniforms';
import { optimizerKernel } from '../../src/optim/gpu-kernels';

function codeOf(action: () => unknown): string {
  try {
    action();
    return 'no error';
  } catch (error) {
    return error instanceof BatchNormError ? error.code : `not a BatchNormError: ${String(error)}`;
  }
}

describe('optimizer options', () => {
  it('fills in PyTorch’s defaults', () => {
    expect(resolveOptimizerOptions({ kind: 'sgd' })).toEqual({ kind: 'sgd', lr: 1e-3, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false });
    expect(resolveOptimizerOptions({ kind: 'adam' })).toEqual({ kind: 'adam', lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false });
    expect(resolveOptimizerOptions({ kind: 'adamw' })).toMatchObject({ weightDecay: 1e-2, betas: [0.9, 0.999] });
    expect(resolveOptimizerOptions({ kind: 'rmsprop' })).toEqual({ kind: 'rmsprop', lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false, maximize: false });
  });

  const bad: [string, OptimizerOptions][] = [
    ['lr < 0', { kind: 'sgd', lr: -0.1 }],
    ['lr NaN', { kind: 'adam', lr: NaN }],
    ['lr ∞', { kind: 'rmsprop', lr: Infinity }],
    ['lr beyond float32', { kind: 'sgd', lr: 1e39 }],
    ['lr a string', { kind: 'sgd', lr: '0.1' as never }],
    ['momentum < 0', { kind: 'sgd', momentum: -0.5 }],
    ['dampening > 1', { kind: 'sgd', momentum: 0.9, dampening: 1.5 }],
    ['nesterov without momentum', { kind: 'sgd', nesterov: true }],
    ['nesterov with dampening', { kind: 'sgd', momentum: 0.9, dampening: 0.1, nesterov: true }],
    ['beta1 = 1', { kind: 'adam', betas: [1, 0.999] }],
    ['beta2 = 1', { kind: 'adamw', betas: [0.9, 1] }],
    ['beta1 < 0', { kind: 'adam', betas: [-0.1, 0.999] }],
    ['one beta', { kind: 'adam', betas: [0.9] as never }],
    ['eps = 0', { kind: 'adam', eps: 0 }],
    ['eps < 0', { kind: 'rmsprop', eps: -1e-8 }],
    ['eps 0 in float32', { kind: 'adam', eps: 1e-50 }],
    ['weightDecay < 0', { kind: 'adamw', weightDecay: -0.01 }],
    ['alpha > 1', { kind: 'rmsprop', alpha: 1.5 }],
    ['rmsprop momentum < 0', { kind: 'rmsprop', momentum: -0.1 }],
    ['maximize not boolean', { kind: 'sgd', maximize: 1 as never }],
    ['amsgrad not boolean', { kind: 'adam', amsgrad: 'yes' as never }],
    ['unknown option (typo)', { kind: 'adam', beta1: 0.9 } as never],
    ['option of another kind', { kind: 'sgd', betas: [0.9, 0.999] } as never],
    ['unknown kind', { kind: 'adagrad' } as never],
    ['no options', null as never],
  ];
  it.each(bad)('rejects %s with invalid-option', (_name, options) => {
    expect(codeOf(() => resolveOptimizerOptions(options))).toBe('invalid-option');
    expect(codeOf(() => createCpuOptimizer(options))).toBe('invalid-option');
  });

  it('setLearningRate validates and keeps the old rate on error', () => {
    const opt = createCpuOptimizer({ kind: 'sgd', lr: 0.5 });
    expect(codeOf(() => opt.setLearningRate(-1))).toBe('invalid-option');
    expect(codeOf(() => opt.setLearningRate(NaN))).toBe('invalid-option');
    expect(opt.lr).toBe(0.5);
    opt.setLearningRate(0.25);
    expect(opt.lr).toBe(0.25);
    expect(opt.options.lr).toBe(0.25);
  });
});

describe('CPU optimizer parameters', () => {
  it('rejects bad arrays with invalid-buffer / length-mismatch and registers nothing', () => {
    const opt = createCpuOptimizer({ kind: 'adam' });
    const p = new Float32Array(4);
    expect(codeOf(() => opt.addParam(new Float64Array(4) as never, new Float32Array(4)))).toBe('invalid-buffer');
    expect(codeOf(() => opt.addParam(p, new Float32Array(3)))).toBe('length-mismatch');
    expect(codeOf(() => opt.addParam(new Float32Array(0), new Float32Array(0)))).toBe('invalid-buffer');
    const shared = new Float32Array(8);
    expect(codeOf(() => opt.addParam(shared.subarray(0, 4), shared.subarray(2, 6)))).toBe('invalid-buffer');
    expect(opt.exportState().params).toHaveLength(0);
    opt.addParam(p, new Float32Array(4));
    expect(codeOf(() => opt.addParam(p, new Float32Array(4)))).toBe('invalid-buffer');
    expect(codeOf(() => opt.addParam(shared.subarray(4), new Float32Array(4)))).toBe('no error');
    expect(opt.exportState().params).toHaveLength(2);
  });

  it('a parameter added after some steps starts from step 0 with zero state (PyTorch’s lazy state)', () => {
    const grads = [[0.5, -1], [0.25, 2], [-1, 0.5], [2, -0.25]];
    const a = Float32Array.of(1, 2);
    const b = Float32Array.of(-1, 0.5);
    const ga = new Float32Array(2);
    const gb = new Float32Array(2);
    const opt = createCpuOptimizer({ kind: 'adam', lr: 0.1 });
    opt.addParam(a, ga, 'a');
    ga.set(grads[0]);
    opt.step();
    ga.set(grads[1]);
    opt.step();
    opt.addParam(b, gb, 'b');
    const alone = Float32Array.of(-1, 0.5);
    const galone = new Float32Array(2);
    const fresh = createCpuOptimizer({ kind: 'adam', lr: 0.1 });
    fresh.addParam(alone, galone);
    for (const g of grads.slice(2)) {
      gb.set(g);
      galone.set(g);
      opt.step();
      fresh.step();
    }
    expect(Array.from(b)).toEqual(Array.from(alone));
    expect(opt.exportState().params.map((p) => p.step)).toEqual([4, 2]);
  });
});

describe('optimizer state dicts', () => {
  const options: OptimizerOptions = { kind: 'rmsprop', lr: 0.01, centered: true, momentum: 0.9 };
  const run = (opt: ReturnType<typeof createCpuOptimizer>, grad: Float32Array, steps: number[][]) => {
    for (const g of steps) {
      grad.set(g);
      opt.step();
    }
  };

  it('export → import into a new optimizer continues bit for bit, with the saved learning rate', () => {
    const p1 = Float32Array.of(1, -2, 3);
    const g1 = new Float32Array(3);
    const one = createCpuOptimizer(options);
    one.addParam(p1, g1);
    run(one, g1, [[1, 2, 3], [-1, 0.5, 2]]);
    one.setLearningRate(0.005);
    const saved = one.exportState();
    expect(saved.params[0]).toMatchObject({ step: 2, length: 3 });
    expect(Object.keys(saved.params[0].buffers).sort()).toEqual(['gradAvg', 'momentumBuffer', 'squareAvg']);

    const p2 = p1.slice();
    const g2 = new Float32Array(3);
    const two = createCpuOptimizer(options);
    two.addParam(p2, g2);
    two.importState(saved);
    expect(two.lr).toBe(0.005);
    run(one, g1, [[0.3, -0.2, 1], [2, 2, -2]]);
    run(two, g2, [[0.3, -0.2, 1], [2, 2, -2]]);
    expect(Array.from(p2)).toEqual(Array.from(p1));
    expect(two.exportState()).toEqual(one.exportState());
    // The exported arrays are copies: stepping does not change a saved state.
    expect(saved.params[0].step).toBe(2);
  });

  it('rejects a state from another configuration or of the wrong shape, leaving the optimizer unchanged', () => {
    const p = Float32Array.of(1, 2, 3);
    const g = Float32Array.of(0.1, 0.2, 0.3);
    const opt = createCpuOptimizer(options);
    opt.addParam(p, g);
    opt.step();
    const good = opt.exportState();
    const variants: [string, (s: OptimizerState) => unknown][] = [
      ['another kind', (s) => (s.options = { ...s.options, kind: 'adam' } as never)],
      ['another momentum', (s) => (s.options = { ...s.options, momentum: 0.5 } as never)],
      ['not centered', (s) => (s.options = { ...s.options, centered: false } as never)],
      ['a bad saved lr', (s) => (s.options = { ...s.options, lr: -1 })],
      ['a parameter more', (s) => s.params.push(s.params[0])],
      ['another length', (s) => (s.params[0] = { ...s.params[0], length: 4 })],
      ['a short buffer', (s) => (s.params[0].buffers.squareAvg = new Float32Array(2))],
      ['a missing buffer', (s) => delete s.params[0].buffers.gradAvg],
      ['a buffer it does not keep', (s) => (s.params[0].buffers.expAvg = new Float32Array(3))],
      ['a Float64Array', (s) => (s.params[0].buffers.squareAvg = new Float64Array(3) as never)],
      ['a negative step', (s) => (s.params[0].step = -1)],
      ['a fractional step', (s) => (s.params[0].step = 1.5)],
      ['no params', (s) => delete (s as Partial<OptimizerState>).params],
    ];
    for (const [what, mutate] of variants) {
      const state = opt.exportState();
      mutate(state);
      expect(codeOf(() => opt.importState(state)), what).toBe('invalid-option');
      expect(opt.exportState(), what).toEqual(good);
    }
  });
});

describe('GPU kernel tables (pure logic)', () => {
  const configs: OptimizerOptions[] = [
    { kind: 'sgd' },
    { kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 0.1 },
    { kind: 'adam', amsgrad: true },
    { kind: 'adamw' },
    { kind: 'rmsprop', centered: true, momentum: 0.9 },
    { kind: 'rmsprop' },
  ];
  it.each(configs.map((c) => [JSON.stringify(c), c] as const))('%s: Params and bindings match the shader', (_name, config) => {
    const resolved = resolveOptimizerOptions(config);
    const kernel = optimizerKernel(resolved);
    // packParams throws on a missing or unknown field: the TS values cover struct Params exactly.
    expect(() => packParams(kernel.shader, kernel.params(0.1, 3))).not.toThrow();
    // Bound positionally like every kernel: Params at @binding(0), then `storage` at 1, 2, … in order.
    const bindings = shaderBindings(kernel.shader.code);
    expect([...bindings]).toEqual([['params', 0], ...kernel.storage.map((name, i) => [name, i + 1])]);
    for (const name of ['param', 'grad', ...stateNames(resolved)]) expect(kernel.storage, name).toContain(name);
  });

  it('AdamW packs the decoupled decay 1 − lr·λ, recomputed for each learning rate', () => {
    const kernel = optimizerKernel(resolveOptimizerOptions({ kind: 'adamw', weightDecay: 0.1 }));
    expect(kernel.params(0.5, 0).decay).toBe(1 - 0.05);
    expect(kernel.params(0.01, 0).decay).toBe(1 - 0.001);
  });
});
