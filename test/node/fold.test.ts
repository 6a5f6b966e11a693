import { describe, expect, it } from 'vitest';
import { BatchNormError, foldBatchNorm, type WeightLayout } from '../../src/index';
import { caseSeed, createRng, normals, seedFromEnv, uniforms, type Rng } from '../support/random';

/*
 * foldBatchNorm against float64 evaluations written here by index arithmetic: for random weights,
 * batch-norm states and inputs, the folded layer alone must compute what the layer and the batch
 * norm compute together, in both weight layouts of each kind (PyTorch's O-first, TF.js's and
 * Keras's O-last), with the batch norm after the layer and before it.
 *
 * Tolerance: the fold is computed in float64 and each folded weight and bias rounded to float32
 * once, so each carries a relative error ≤ u = 2⁻²⁴; the folded layer evaluated in float64 is then
 * off the exact composition by at most u·(Σ|W'·x| + |b'|) (plus float64 noise, ~1e-16 relative),
 * which is what each output is checked against.
 */
const seed = seedFromEnv();
console.log(`fold: TEST_SEED=${seed}`);
const u = 2 ** -24;

interface Conv {
  outputs: number;
  inputs: number;
  kh: number;
  kw: number;
}

/** Index of W[o, i, kh, kw] in each layout (dense: kh = kw = 1). */
function weightIndex(layout: WeightLayout, c: Conv, o: number, i: number, h: number, w: number): number {
  switch (layout) {
    case 'OI':
    case 'OIHW':
      return ((o * c.inputs + i) * c.kh + h) * c.kw + w;
    case 'IO':
    case 'HWIO':
      return ((h * c.kw + w) * c.inputs + i) * c.outputs + o;
    default:
      throw new Error(`layout ${layout} not covered here`);
  }
}

function shapeOf(layout: WeightLayout, c: Conv): number[] {
  return { OI: [c.outputs, c.inputs], IO: [c.inputs, c.outputs], OIHW: [c.outputs, c.inputs, c.kh, c.kw], HWIO: [c.kh, c.kw, c.inputs, c.outputs] }[layout as 'OI'];
}

/** A weight tensor in `layout` holding the values of `logical` (indexed as OIHW). */
function arrange(layout: WeightLayout, c: Conv, logical: Float32Array): Float32Array {
  const out = new Float32Array(logical.length);
  for (let o = 0; o < c.outputs; o++)
    for (let i = 0; i < c.inputs; i++)
      for (let h = 0; h < c.kh; h++) for (let w = 0; w < c.kw; w++) out[weightIndex(layout, c, o, i, h, w)] = logical[weightIndex('OIHW', c, o, i, h, w)];
  return out;
}

/**
 * A 'valid' 2-D convolution (dense: 1×1 kernel on a 1×1 input) of a channels-last input [H, W, I],
 * in float64; `bound` also returns Σ|W·x| + |b| per output.
 */
function conv(layout: WeightLayout, c: Conv, weight: ArrayLike<number>, bias: ArrayLike<number> | undefined, x: ArrayLike<number>, H: number, W: number) {
  const [oh, ow] = [H - c.kh + 1, W - c.kw + 1];
  const y = new Float64Array(oh * ow * c.outputs);
  const magnitude = new Float64Array(y.length);
  for (let r = 0; r < oh; r++)
    for (let q = 0; q < ow; q++)
      for (let o = 0; o < c.outputs; o++) {
        let sum = bias ? bias[o] : 0;
        let abs = bias ? Math.abs(bias[o]) : 0;
        for (let h = 0; h < c.kh; h++)
          for (let w = 0; w < c.kw; w++)
            for (let i = 0; i < c.inputs; i++) {
              const term = weight[weightIndex(layout, c, o, i, h, w)] * x[((r + h) * W + (q + w)) * c.inputs + i];
              sum += term;
              abs += Math.abs(term);
            }
        y[(r * ow + q) * c.outputs + o] = sum;
        magnitude[(r * ow + q) * c.outputs + o] = abs;
      }
  return { y, magnitude };
}

interface State {
  gamma: Float32Array;
  beta: Float32Array;
  runningMean: Float32Array;
  runningVar: Float32Array;
  eps: number;
}

function randomState(rng: Rng, C: number): State {
  return { gamma: normals(rng, C, 1, 0.5), beta: normals(rng, C, 0, 0.5), runningMean: normals(rng, C, 0, 2), runningVar: uniforms(rng, C, 0.05, 4), eps: 1e-3 };
}

/** Inference batch norm over the last axis (channels-last), float64. */
function batchNorm(v: ArrayLike<number>, s: State): Float64Array {
  const C = s.gamma.length;
  return Float64Array.from(v, (value, k) => {
    const c = k % C;
    return (s.gamma[c] * (value - s.runningMean[c])) / Math.sqrt(s.runningVar[c] + s.eps) + s.beta[c];
  });
}

const kinds: { name: string; layouts: [WeightLayout, WeightLayout]; conv: Conv; H: number; W: number }[] = [
  { name: 'dense 7 → 5', layouts: ['OI', 'IO'], conv: { outputs: 5, inputs: 7, kh: 1, kw: 1 }, H: 1, W: 1 },
  { name: 'dense 1 → 1', layouts: ['OI', 'IO'], conv: { outputs: 1, inputs: 1, kh: 1, kw: 1 }, H: 1, W: 1 },
  { name: 'conv 3×2, 3 → 4', layouts: ['OIHW', 'HWIO'], conv: { outputs: 4, inputs: 3, kh: 3, kw: 2 }, H: 6, W: 5 },
  { name: 'conv 1×1, 6 → 2', layouts: ['OIHW', 'HWIO'], conv: { outputs: 2, inputs: 6, kh: 1, kw: 1 }, H: 3, W: 3 },
];

describe('foldBatchNorm: the folded layer computes layer + batch norm', () => {
  for (const kind of kinds) {
    for (const where of ['after', 'before'] as const) {
      for (const withBias of [true, false]) {
        it(`${kind.name}, batch norm ${where} the layer, ${withBias ? 'with' : 'without'} bias: ${kind.layouts.join(' and ')}`, () => {
          const rng = createRng(caseSeed(seed, `${kind.name} ${where} ${withBias}`));
          const c = kind.conv;
          const logical = normals(rng, c.outputs * c.inputs * c.kh * c.kw, 0, 0.7);
          const bias = withBias ? normals(rng, c.outputs, 0, 0.5) : undefined;
          const state = randomState(rng, where === 'after' ? c.outputs : c.inputs);
          const x = normals(rng, kind.H * kind.W * c.inputs, 0.3, 1.5);
          // Exact: the layer then the batch norm, or the batch norm then the layer.
          const exact = where === 'after' ? batchNorm(conv('OIHW', c, logical, bias, x, kind.H, kind.W).y, state) : conv('OIHW', c, logical, bias, batchNorm(x, state), kind.H, kind.W).y;
          const results = kind.layouts.map((layout) => {
            const weight = arrange(layout, c, logical);
            const before = { weight: weight.slice(), bias: bias?.slice(), state: structuredClone(state) };
            const folded = foldBatchNorm({ weight, bias }, state, { layout, shape: shapeOf(layout, c), batchNorm: where });
            // Inputs untouched, outputs new.
            expect(weight).toEqual(before.weight);
            expect(bias).toEqual(before.bias);
            expect(state).toEqual(before.state);
            expect(folded.bias.length).toBe(c.outputs);
            const { y, magnitude } = conv(layout, c, folded.weight, folded.bias, x, kind.H, kind.W);
            y.forEach((v, k) => {
              const allowed = u * magnitude[k] * (1 + 1e-9) + 1e-300;
              if (!(Math.abs(v - exact[k]) <= allowed)) throw new Error(`${layout} output ${k}: ${v} vs ${exact[k]}, allowed ${allowed}`);
            });
            return folded;
          });
          // Both layouts fold to the same numbers, each in its own arrangement.
          const [first, second] = results;
          expect(arrange(kind.layouts[1], c, Float32Array.from({ length: first.weight.length }, (_, k) => first.weight[k]))).toEqual(second.weight);
          expect(first.bias).toEqual(second.bias);
          if (!kind.layouts[0].startsWith('O')) throw new Error('the first layout of each kind is PyTorch’s');
          // Dense layouts need no shape.
          if (c.kh === 1 && c.kw === 1 && kind.layouts[0] === 'OI') {
            const flat = kind.layouts.map((layout) => foldBatchNorm({ weight: arrange(layout, c, logical), bias }, state, { layout, batchNorm: where }));
            flat.forEach((f, k) => expect(f).toEqual(results[k]));
          }
        });
      }
    }
  }

  it('takes arrays of numbers, γ and β by default, eps by convention', () => {
    const weight = [1, 2, 3, 4, 5, 6]; // OI [2, 3]
    const state = { runningMean: [1, -1], runningVar: [4, 0.25] };
    const byDefault = foldBatchNorm({ weight }, state, { layout: 'OI' });
    const s = [1 / Math.sqrt(4 + 1e-5), 1 / Math.sqrt(0.25 + 1e-5)];
    expect(Array.from(byDefault.weight)).toEqual([1, 2, 3, 4, 5, 6].map((w, k) => Math.fround(w * s[Math.floor(k / 3)])));
    expect(Array.from(byDefault.bias)).toEqual([Math.fround(-1 * s[0]), Math.fround(1 * s[1])]);
    const keras = foldBatchNorm({ weight }, { ...state, convention: 'keras' }, { layout: 'OI' });
    expect(keras.weight[0]).toBe(Math.fround(1 / Math.sqrt(4 + 1e-3)));
    const eps0 = foldBatchNorm({ weight }, { ...state, eps: 0, gamma: [2, 1], beta: [0.5, 0] }, { layout: 'OI' });
    expect(eps0.weight[0]).toBe(1);
    expect(eps0.bias[0]).toBe(Math.fround(0.5 - 1));
  });
});

describe('foldBatchNorm refuses mismatches before computing anything', () => {
  const state = { runningMean: new Float32Array(3), runningVar: new Float32Array(3).fill(1) };
  const weight = new Float32Array(12);
  const code = (work: () => unknown) => {
    try {
      work();
      return 'no error';
    } catch (error) {
      return error instanceof BatchNormError ? error.code : String(error);
    }
  };
  it.each([
    ['weight length not a multiple of C', () => foldBatchNorm({ weight: new Float32Array(10) }, state, { layout: 'OI' }), 'length-mismatch'],
    ['shape of another rank', () => foldBatchNorm({ weight }, state, { layout: 'OIHW', shape: [3, 4] }), 'invalid-shape'],
    ['shape holding another count', () => foldBatchNorm({ weight }, state, { layout: 'OI', shape: [3, 5] }), 'length-mismatch'],
    ['O axis of the shape ≠ C', () => foldBatchNorm({ weight }, state, { layout: 'IO', shape: [3, 4] }), 'channel-mismatch'],
    ['I axis ≠ C, batch norm before', () => foldBatchNorm({ weight }, state, { layout: 'HWIO', shape: [1, 1, 4, 3], batchNorm: 'before' }), 'channel-mismatch'],
    ['convolution before without shape', () => foldBatchNorm({ weight }, state, { layout: 'OIHW', batchNorm: 'before' }), 'invalid-shape'],
    ['bias of the wrong length', () => foldBatchNorm({ weight, bias: new Float32Array(4) }, state, { layout: 'OI' }), 'channel-mismatch'],
    ['gamma of the wrong length', () => foldBatchNorm({ weight }, { ...state, gamma: [1, 1] }, { layout: 'OI' }), 'channel-mismatch'],
    ['runningVar of the wrong length', () => foldBatchNorm({ weight }, { ...state, runningVar: [1, 1, 1, 1] }, { layout: 'OI' }), 'channel-mismatch'],
    ['no running statistics', () => foldBatchNorm({ weight }, { runningMean: state.runningMean } as never, { layout: 'OI' }), 'missing-running-stats'],
    ['eps < 0', () => foldBatchNorm({ weight }, { ...state, eps: -1 }, { layout: 'OI' }), 'invalid-eps'],
    ['unknown layout', () => foldBatchNorm({ weight }, state, { layout: 'OHWI' as never }), 'invalid-layout'],
    ['weight of strings', () => foldBatchNorm({ weight: ['1'] as never }, state, { layout: 'OI' }), 'invalid-option'],
    ["batchNorm 'middle'", () => foldBatchNorm({ weight }, state, { layout: 'OI', batchNorm: 'middle' as never }), 'invalid-option'],
    ['no options', () => foldBatchNorm({ weight }, state, undefined as never), 'invalid-option'],
  ] as const)('%s', (_name, work, expected) => {
    expect(code(work)).toBe(expected);
  });
});
