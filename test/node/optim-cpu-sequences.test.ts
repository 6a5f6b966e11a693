import { describe, it } from 'vitest';
import { createCpuOptimizer, type OptimizerOptions, type StateName } from '../../src/index';
import { checkClose } from '../support/compare';

/*
 * Four steps of every optimizer configuration that changes the formula, on a two-value parameter
 * p₀ = [1, −0.5] with the gradients below, against sequences computed apart from the library: a
 * float64 script written from PyTorch's _single_tensor_sgd/adam/rmsprop (m and the centered
 * average by lerp, as PyTorch does), storing float32 after every step as a float32 tensor would.
 * Hand checks of step 1:
 *   SGD lr 0.5: p = [1 − 0.25, −0.5 + 0.5] = [0.75, 0].
 *   SGD nesterov, μ 0.5, λ 0.25: g = 0.5 + 0.25·1 = 0.75, b = g (first step), g + μb = 1.125,
 *     p = 1 − 0.5·1.125 = 0.4375.
 *   SGD maximize, λ 0.25: g = −0.5 + 0.25·1 = −0.25 (negated before the decay, as PyTorch's code does),
 *     p = 1 + 0.125 = 1.125.
 *   Adam lr 0.1: m = 0.05, v = 0.00025, step size = 0.1/0.1 = 1, denom = sqrt(0.00025)/sqrt(0.001) + 1e-8
 *     = 0.5 + 1e-8, p = 1 − 0.05/0.5 = 0.9 (to 1e-8).
 *   AdamW λ 0.1: p = 1·(1 − 0.01) − 0.1 = 0.89.
 *   RMSprop centered α 0.5: s = 0.125, a = 0.25, avg = sqrt(0.125 − 0.0625) = 0.25, p = 1 − 0.01·0.5/0.25 = 0.98.
 * Steps 2–4 are where momentum, dampening (skipped on the first step), amsgrad's maximum and the
 * bias corrections show.
 */
const p0 = [1, -0.5];
const grads = [
  [0.5, -1],
  [0.25, 2],
  [-1, 0.5],
  [2, -0.25],
];

const configs: Record<string, OptimizerOptions> = {
  'sgd plain': { kind: 'sgd', lr: 0.5 },
  'sgd momentum': { kind: 'sgd', lr: 0.5, momentum: 0.5 },
  'sgd momentum dampening': { kind: 'sgd', lr: 0.5, momentum: 0.5, dampening: 0.25 },
  'sgd nesterov weight decay': { kind: 'sgd', lr: 0.5, momentum: 0.5, weightDecay: 0.25, nesterov: true },
  'sgd maximize weight decay momentum': { kind: 'sgd', lr: 0.5, momentum: 0.5, weightDecay: 0.25, maximize: true },
  adam: { kind: 'adam', lr: 0.1 },
  'adam l2': { kind: 'adam', lr: 0.1, weightDecay: 0.1 },
  adamw: { kind: 'adamw', lr: 0.1, weightDecay: 0.1 },
  'adam amsgrad': { kind: 'adam', lr: 0.1, betas: [0.5, 0.75], amsgrad: true },
  'adamw amsgrad maximize': { kind: 'adamw', lr: 0.1, betas: [0.5, 0.75], weightDecay: 0.5, amsgrad: true, maximize: true },
  rmsprop: { kind: 'rmsprop', lr: 0.01 },
  'rmsprop centered': { kind: 'rmsprop', lr: 0.01, alpha: 0.5, centered: true },
  'rmsprop momentum': { kind: 'rmsprop', lr: 0.01, alpha: 0.5, momentum: 0.5 },
  'rmsprop centered momentum weight decay': { kind: 'rmsprop', lr: 0.01, alpha: 0.5, centered: true, momentum: 0.5, weightDecay: 0.25 },
};

type Expected = Partial<Record<'param' | StateName, number[]>>;

const expected: Record<string, Expected[]> = {
  'sgd plain': [
    { param: [0.75, 0.0] },
    { param: [0.625, -1.0] },
    { param: [1.125, -1.25] },
    { param: [0.125, -1.125] },
  ],
  'sgd momentum': [
    { param: [0.75, 0.0], momentumBuffer: [0.5, -1.0] },
    { param: [0.5, -0.75], momentumBuffer: [0.5, 1.5] },
    { param: [0.875, -1.375], momentumBuffer: [-0.75, 1.25] },
    { param: [0.0625, -1.5625], momentumBuffer: [1.625, 0.375] },
  ],
  'sgd momentum dampening': [
    { param: [0.75, 0.0], momentumBuffer: [0.5, -1.0] },
    { param: [0.53125, -0.5], momentumBuffer: [0.4375, 1.0] },
    { param: [0.796875, -0.9375], momentumBuffer: [-0.53125, 0.875] },
    { param: [0.1796875, -1.0625], momentumBuffer: [1.234375, 0.25] },
  ],
  'sgd nesterov weight decay': [
    { param: [0.4375, 0.34375], momentumBuffer: [0.75, -1.125] },
    { param: [0.07421875, -1.080078125], momentumBuffer: [0.734375, 1.5234375] },
    { param: [0.718505859375, -1.4429931640625], momentumBuffer: [-0.6142578125, 0.99169921875] },
    { param: [-0.8394317626953125, -1.1088943481445312], momentumBuffer: [1.87249755859375, -0.114898681640625] },
  ],
  'sgd maximize weight decay momentum': [
    { param: [1.125, -0.9375], momentumBuffer: [-0.25, 0.875] },
    { param: [1.171875, -0.0390625], momentumBuffer: [-0.09375, -1.796875] },
    { param: [0.548828125, 0.6650390625], momentumBuffer: [1.24609375, -1.408203125] },
    { param: [1.168701171875, 0.8089599609375], momentumBuffer: [-1.23974609375, -0.287841796875] },
  ],
  'adam': [
    { param: [0.8999999761581421, -0.4000000059604645], expAvg: [0.05000000074505806, -0.10000000149011612], expAvgSq: [0.0002500000118743628, 0.0010000000474974513] },
    { param: [0.8067820072174072, -0.4366103708744049], expAvg: [0.07000000029802322, 0.10999999940395355], expAvgSq: [0.0003122500202152878, 0.004999000113457441] },
    { param: [0.8274177312850952, -0.47817549109458923], expAvg: [-0.03700000047683716, 0.14900000393390656], expAvgSq: [0.0013119378127157688, 0.005244001280516386] },
    { param: [0.7853804230690002, -0.5057119131088257], expAvg: [0.16670000553131104, 0.10910000652074814], expAvgSq: [0.005310625769197941, 0.005301257129758596] },
  ],
  'adam l2': [
    { param: [0.8999999761581421, -0.4000000059604645], expAvg: [0.05999999865889549, -0.10499999672174454], expAvgSq: [0.0003600000054575503, 0.001102500013075769] },
    { param: [0.8050097227096558, -0.43397220969200134], expAvg: [0.08799999952316284, 0.101500004529953], expAvgSq: [0.00047523999819532037, 0.004942997358739376] },
    { param: [0.8120982050895691, -0.4725528657436371], expAvg: [-0.012749902904033661, 0.13701027631759644], expAvgSq: [0.0013202432310208678, 0.0051465402357280254] },
    { param: [0.7640231847763062, -0.4963339567184448], expAvg: [0.1966460645198822, 0.09358371794223785], expAvgSq: [0.0056503573432564735, 0.005229754373431206] },
  ],
  'adamw': [
    { param: [0.8899999856948853, -0.39500001072883606], expAvg: [0.05000000074505806, -0.10000000149011612], expAvgSq: [0.0002500000118743628, 0.0010000000474974513] },
    { param: [0.7878820300102234, -0.42766037583351135], expAvg: [0.07000000029802322, 0.10999999940395355], expAvgSq: [0.0003122500202152878, 0.004999000113457441] },
    { param: [0.8006389141082764, -0.4649488925933838], expAvg: [-0.03700000047683716, 0.14900000393390656], expAvgSq: [0.0013119378127157688, 0.005244001280516386] },
    { param: [0.750595211982727, -0.4878358244895935], expAvg: [0.16670000553131104, 0.10910000652074814], expAvgSq: [0.005310625769197941, 0.005301257129758596] },
  ],
  'adam amsgrad': [
    { param: [0.8999999761581421, -0.4000000059604645], expAvg: [0.25, -0.5], expAvgSq: [0.0625, 0.25], maxExpAvgSq: [0.0625, 0.25] },
    { param: [0.8118082880973816, -0.4606977105140686], expAvg: [0.25, 0.75], expAvgSq: [0.0625, 1.1875], maxExpAvgSq: [0.0625, 1.1875] },
    { param: [0.8716146349906921, -0.5105363130569458], expAvg: [-0.375, 0.625], expAvgSq: [0.296875, 0.953125], maxExpAvgSq: [0.296875, 1.1875] },
    { param: [0.8068110346794128, -0.5257107615470886], expAvg: [0.8125, 0.1875], expAvgSq: [1.22265625, 0.73046875], maxExpAvgSq: [1.22265625, 1.1875] },
  ],
  'adamw amsgrad maximize': [
    { param: [1.0499999523162842, -0.574999988079071], expAvg: [-0.25, 0.5], expAvgSq: [0.0625, 0.25], maxExpAvgSq: [0.0625, 0.25] },
    { param: [1.0856916904449463, -0.48555228114128113], expAvg: [-0.25, -0.75], expAvgSq: [0.0625, 1.1875], maxExpAvgSq: [0.0625, 1.1875] },
    { param: [0.9716007709503174, -0.4114360511302948], expAvg: [0.375, -0.625], expAvgSq: [0.296875, 0.953125], maxExpAvgSq: [0.296875, 1.1875] },
    { param: [0.9878243207931519, -0.375689834356308], expAvg: [-0.8125, -0.1875], expAvgSq: [1.22265625, 0.73046875], maxExpAvgSq: [1.22265625, 1.1875] },
  ],
  'rmsprop': [
    { param: [0.9000000357627869, -0.4000000059604645], squareAvg: [0.0024999999441206455, 0.009999999776482582] },
    { param: [0.8550987243652344, -0.4895322918891907], squareAvg: [0.0030999998562037945, 0.04989999905228615] },
    { param: [0.9425727128982544, -0.5114796161651611], squareAvg: [0.013069000095129013, 0.05190099775791168] },
    { param: [0.8556476831436157, -0.5005171298980713], squareAvg: [0.0529383085668087, 0.05200698599219322] },
  ],
  'rmsprop centered': [
    { param: [0.9800000190734863, -0.47999998927116394], squareAvg: [0.125, 0.5], gradAvg: [0.25, -0.5] },
    { param: [0.9658578634262085, -0.4953959882259369], squareAvg: [0.09375, 2.25], gradAvg: [0.25, 0.75] },
    { param: [0.9815471768379211, -0.5007895827293396], squareAvg: [0.546875, 1.25], gradAvg: [-0.375, 0.625] },
    { param: [0.9658010005950928, -0.49761736392974854], squareAvg: [2.2734375, 0.65625], gradAvg: [0.8125, 0.1875] },
  ],
  'rmsprop momentum': [
    { param: [0.9858578443527222, -0.48585787415504456], squareAvg: [0.125, 0.5], momentumBuffer: [1.4142135381698608, -1.4142135381698608] },
    { param: [0.9706218242645264, -0.4921201467514038], squareAvg: [0.09375, 2.25], momentumBuffer: [1.5236033201217651, 0.626226544380188] },
    { param: [0.9765262603759766, -0.4997234046459198], squareAvg: [0.546875, 1.25], momentumBuffer: [-0.5904451012611389, 0.7603268623352051] },
    { param: [0.9662140607833862, -0.5004389882087708], squareAvg: [2.2734375, 0.65625], momentumBuffer: [1.0312200784683228, 0.07155673205852509] },
  ],
  'rmsprop centered momentum weight decay': [
    { param: [0.9800000190734863, -0.47999998927116394], squareAvg: [0.28125, 0.6328125], gradAvg: [0.375, -0.5625], momentumBuffer: [2.0, -2.0] },
    { param: [0.9517927169799805, -0.4846372902393341], squareAvg: [0.26313748955726624, 2.083606243133545], gradAvg: [0.4350000023841858, 0.6587499976158142], momentumBuffer: [2.820733070373535, 0.46373116970062256] },
    { param: [0.9498112797737122, -0.49107861518859863], squareAvg: [0.4219302237033844, 1.1135632991790771], gradAvg: [-0.16352590918540955, 0.5187953114509583], momentumBuffer: [0.1981455534696579, 0.6441327333450317] },
    { param: [0.9313424229621887, -0.48956865072250366], squareAvg: [2.7140626907348633, 0.6262602806091309], gradAvg: [1.0369634628295898, 0.0730128288269043], momentumBuffer: [1.8468856811523438, -0.1509971171617508] },
  ],
};

// Both sides round each stored value to float32 once per step from float64 arithmetic; float64
// evaluation order (lerp vs β·m + (1 − β)·g) can at most move a value across a float32 rounding
// boundary: one float32 ulp, 2^-23 relative, carried into later steps. 2^-21 leaves room for that.
const tol = { atol: 1e-12, rtol: 2 ** -21 };

describe('CPU optimizers against the float64 sequences', () => {
  for (const [name, options] of Object.entries(configs)) {
    it(name, () => {
      const param = Float32Array.from(p0);
      const grad = new Float32Array(2);
      const opt = createCpuOptimizer(options);
      opt.addParam(param, grad, 'p');
      expected[name].forEach((want, step) => {
        grad.set(grads[step]);
        opt.step();
        const state = opt.exportState().params[0];
        if (state.step !== step + 1) throw new Error(`${name}: step count ${state.step} after ${step + 1} steps`);
        const names = Object.keys(want).filter((k) => k !== 'param').sort();
        if (Object.keys(state.buffers).sort().join() !== names.join()) {
          throw new Error(`${name}: state ${Object.keys(state.buffers).join()} , expected ${names.join()}`);
        }
        for (const [key, values] of Object.entries(want)) {
          const actual = key === 'param' ? param : state.buffers[key as StateName]!;
          const error = checkClose(actual, values, tol, `${name} step ${step + 1} ${key}`);
          if (error) throw error;
        }
        if (!grad.every((g, i) => g === grads[step][i])) throw new Error('the gradient was modified');
      });
    });
  }
});
