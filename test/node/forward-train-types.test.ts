import { describe, expectTypeOf, it } from 'vitest';
import { createBatchNorm, type BatchNorm, type BatchNormOptions, type Float16Data, type ForwardTrainResult, type GpuBatchNorm } from '../../src/index';
import type { NodeBatchNorm } from '../../src/node/index';

/*
 * Type-level checks, enforced by `tsc --noEmit` (the project's type check covers test/): the
 * running statistics of a ForwardTrainResult are typed as present exactly when the options held
 * running statistics, on every host-array API. At run time the CPU engine confirms the values.
 */
type ForwardTrain = BatchNorm['forwardTrain'] | GpuBatchNorm['forwardTrain'] | NodeBatchNorm['forwardTrain'];

describe('ForwardTrainResult.runningMean / runningVar types', () => {
  it('are Float32Array when running statistics were passed, optional otherwise', async () => {
    const bn = await createBatchNorm({ backend: 'cpu' });
    const x = Float32Array.of(1, 2, 3, 4);
    const withRunning = await bn.forwardTrain(x, { shape: [2, 2], runningMean: new Float32Array(2), runningVar: [1, 1] });
    expectTypeOf(withRunning.runningMean).toEqualTypeOf<Float32Array>();
    expectTypeOf(withRunning.runningVar).toEqualTypeOf<Float32Array>();
    expectTypeOf(withRunning).toExtend<ForwardTrainResult>();
    // Usable without a non-null assertion:
    const next: Float32Array = withRunning.runningMean;

    const without = await bn.forwardTrain(x, { shape: [2, 2] });
    expectTypeOf(without.runningMean).toEqualTypeOf<Float32Array | undefined>();
    // A type check only (never called): tsc refuses it, as runningVar may be undefined here.
    const unchecked = () =>
      // @ts-expect-error possibly undefined: no running statistics were passed
      without.runningVar.length;
    expectTypeOf(unchecked).toBeFunction();

    // Options typed as the general BatchNormOptions (running statistics optional) give the general result.
    const general: BatchNormOptions = { shape: [2, 2] };
    expectTypeOf(await bn.forwardTrain(x, general)).toEqualTypeOf<ForwardTrainResult>();

    // The other host-array APIs have the same overloads.
    for (const forwardTrain of [] as ForwardTrain[]) {
      const typed = await forwardTrain(x, { shape: [2, 2], runningMean: [0, 0], runningVar: [1, 1] });
      expectTypeOf(typed.runningVar).toEqualTypeOf<Float32Array>();
    }
    expectTypeOf<GpuBatchNorm['forwardTrain']>().parameter(0).toEqualTypeOf<Float32Array | readonly number[] | Float16Data>();
    bn.dispose();
    // At run time too.
    if (!(next instanceof Float32Array) || without.runningMean !== undefined) throw new Error('running statistics not as typed');
  });
});

describe('BackwardResult.dz type', () => {
  it('is Float32Array when the options had a residual, optional otherwise', async () => {
    const bn = await createBatchNorm({ backend: 'cpu' });
    const x = Float32Array.of(1, 2, 3, 4);
    const dy = Float32Array.of(1, -1, 2, 0.5);
    const residual = Float32Array.of(0, 1, 0, 1);
    const forward = await bn.forwardTrain(x, { shape: [2, 2], residual });
    const withZ = await bn.backward(dy, x, { shape: [2, 2], residual }, forward);
    expectTypeOf(withZ.dz).toEqualTypeOf<Float32Array>();
    const withTrue = await bn.backward(dy, x, { shape: [2, 2], residual: true }, forward);
    expectTypeOf(withTrue.dz).toEqualTypeOf<Float32Array>();
    const without = await bn.backward(dy, x, { shape: [2, 2] }, forward);
    expectTypeOf(without.dz).toEqualTypeOf<Float32Array | undefined>();
    type Backward = BatchNorm['backward'] | GpuBatchNorm['backward'] | NodeBatchNorm['backward'];
    for (const backward of [] as Backward[]) expectTypeOf((await backward(dy, x, { shape: [2, 2], residual: true }, forward)).dz).toEqualTypeOf<Float32Array>();
    bn.dispose();
    if (!(withZ.dz instanceof Float32Array) || without.dz !== undefined) throw new Error('dz not as typed');
  });
});
