import { expect, it } from 'vitest';
import { describeGpu, useHarness } from '../support/browser';

/** The code each bad input must be refused with, by its description. */
const expected: Record<string, string> = {
  'NaN in shape': 'invalid-shape',
  'zero dimension': 'invalid-shape',
  'fractional dimension': 'invalid-shape',
  'shape is a string': 'invalid-shape',
  "layout 'nchw' (lower case)": 'invalid-layout',
  'layout of another rank': 'invalid-layout',
  'x is a Float64Array': 'invalid-option',
  'x one value short': 'length-mismatch',
  'gamma of C + 1 values': 'channel-mismatch',
  'beta is an array of strings': 'invalid-option',
  'runningMean without runningVar': 'missing-running-stats',
  'eps −1e-5': 'invalid-eps',
  'eps NaN': 'invalid-eps',
  'eps 1e39 (Infinity as a float32)': 'invalid-eps',
  'momentum 1.5': 'invalid-momentum',
  "momentum '0.1' (a string)": 'invalid-momentum',
  'one value per channel': 'too-few-values',
  "convention 'tf'": 'invalid-option',
  "activation 'gelu'": 'invalid-option',
  'options null': 'invalid-option',
  'no running statistics': 'missing-running-stats',
  "mode 'inference'": 'invalid-option',
  'training mode without saved statistics': 'invalid-option',
  'saved.invStd of C − 1 values': 'channel-mismatch',
  'dy one value short': 'length-mismatch',
  'eval mode without running statistics': 'missing-running-stats',
  'relu without saved.y': 'invalid-option',
  'relu in eval mode without y': 'invalid-option',
  'saved.y one value short': 'length-mismatch',
  'x holds a string': 'invalid-option',
  'encoder is null': 'invalid-option',
  'y one value short': 'invalid-buffer',
  'x and y one buffer': 'invalid-buffer',
  'gamma is the running mean (written)': 'invalid-buffer',
  'stats holds 4·C values': 'invalid-buffer',
  'x without STORAGE usage': 'invalid-buffer',
  'x is a Float32Array': 'invalid-buffer',
  'runningVar missing': 'missing-running-stats',
  'y is the running variance': 'invalid-buffer',
  'dx is x': 'invalid-buffer',
  "accumulate 'yes'": 'invalid-option',
  'dgamma is dbeta': 'invalid-buffer',
  'relu without y': 'invalid-buffer',
  'relu, y is dx': 'invalid-buffer',
  'stats is x': 'invalid-buffer',
  '0 channels': 'invalid-option',
  'more channels than a buffer can hold': 'invalid-option',
  'numFeatures 0': 'invalid-option',
  'momentum null with Keras': 'invalid-momentum',
  "affine 'no'": 'invalid-option',
  'no kernels': 'invalid-option',
  'numFeatures beyond the device': 'invalid-option',
  'shape with another channel count': 'channel-mismatch',
  'dx is dy': 'invalid-buffer',
  'before any forward': 'invalid-option',
  'running_var of C − 1 values': 'channel-mismatch',
  'num_batches_tracked −1': 'invalid-option',
  'weight gradient is a Float64Array': 'channel-mismatch',
  "mode 'yes'": 'invalid-option',
  'lr −1': 'invalid-option',
  "unknown option 'beta1'": 'invalid-option',
  'param is its own gradient': 'invalid-buffer',
  'a registered parameter again': 'invalid-buffer',
  NaN: 'invalid-option',
  'a parameter of another length': 'invalid-option',
  'gradient of another length': 'length-mismatch',
  'no layers': 'invalid-option',
  'an optimizer parameter that is no layer parameter': 'invalid-option',
  "checkFinite 'yes'": 'invalid-option',
  'residual one value short': 'length-mismatch',
  'residual holds a string': 'invalid-option',
  "residual (the forward's z) one value short": 'length-mismatch',
  'residual 1 (neither z nor a boolean)': 'invalid-option',
  'residual buffer one value short': 'invalid-buffer',
  'residual is y': 'invalid-buffer',
  'residual is the stats buffer': 'invalid-buffer',
  'dz is dx': 'invalid-buffer',
  'dz is dy': 'invalid-buffer',
  'dz one value short': 'invalid-buffer',
  'residual buffer is y': 'invalid-buffer',
  'dz after a forward without residual': 'invalid-option',
};

describeGpu('bad inputs: a specific BatchNormError before any GPU work, nothing changed', () => {
  const harness = useHarness();

  it('every entry point refuses every bad input of the catalogue', async () => {
    const report = await harness().call('badInputsCase');
    console.log(`bad inputs tried: ${report.rejections.length}, over ${new Set(report.rejections.map((r) => r.entry)).size} entry points`);
    expect(report.rejections.length).toBeGreaterThanOrEqual(30);
    expect(report.controlWork, 'the counters see a valid call').toBeGreaterThan(0);
    for (const r of report.rejections) {
      const where = `${r.entry}: ${r.what}`;
      expect(r.code, where).toBe(expected[r.what]);
      expect(r.gpuWork, `${where} made device calls`).toBe(0);
    }
    // Every buffer, parameter, gradient, running statistic, optimizer state and host array reads
    // back bit-identical, and the encoder the bad calls were given is valid and empty.
    expect(report.changed).toEqual([]);
    expect(report.gpuErrors).toEqual([]);
  });
});
