import { expect, it } from 'vitest';
import type { SubgroupsReport } from './page/subgroups-case';
import { describeGpu, useHarness } from '../support/browser';

/** The kernels whose workgroup sums have a subgroups variant (src/gpu/shader-sources.ts). */
const runsKernels = ['stats-runs', 'backward-reduce-runs', 'fused-small-forward', 'fused-small-backward'];
const subgroupVariants = runsKernels.map((name) => `${name}+subgroups`);

describeGpu('workgroup sums: subgroups where the device has them, the barrier tree otherwise', () => {
  const harness = useHarness();
  let report: Promise<SubgroupsReport> | undefined;
  const subgroupsCase = () => (report ??= harness().call('subgroupsCase'));

  it('compiles every kernel in every variant the device allows', async () => {
    const { compiled, compileMessages, adapterFeatures } = await subgroupsCase();
    expect(compileMessages).toEqual([]);
    expect(compiled).toEqual(expect.arrayContaining(adapterFeatures.includes('subgroups') ? [...runsKernels, ...subgroupVariants] : runsKernels));
  });

  it('builds the subgroups variants on a device with the feature, the barrier tree otherwise or when told', async () => {
    const { adapterFeatures, engines } = await subgroupsCase();
    if (adapterFeatures.includes('subgroups')) {
      expect(engines.default.deviceHasSubgroups).toBe(true);
      expect(engines.default.modules).toEqual(expect.arrayContaining(subgroupVariants));
      for (const name of runsKernels) expect(engines.default.modules).not.toContain(name);
    } else {
      expect(engines.default.modules).toEqual(expect.arrayContaining(runsKernels));
    }
    // tuning.useSubgroups: false keeps the barrier tree, which devices without the feature run.
    expect(engines.fallback.modules).toEqual(expect.arrayContaining(runsKernels));
    expect(engines.fallback.modules.filter((name) => name.endsWith('+subgroups'))).toEqual([]);
  });

  it('runs the GPU suites on subgroups when the adapter is SwiftShader', async () => {
    const { adapterArchitecture, adapterFeatures, subgroupMaxSize, engines } = await subgroupsCase();
    // SwiftShader's adapter has the feature with subgroups of 4. Were it gone, every
    // other GPU test would cover only the fallback without saying so.
    const swiftShader = /swiftshader/i.test(adapterArchitecture);
    expect({ swiftShader, subgroups: adapterFeatures.includes('subgroups'), subgroupMaxSize, usesThem: engines.default.modules.includes('stats-runs+subgroups') }).toEqual(
      swiftShader ? { swiftShader, subgroups: true, subgroupMaxSize: 4, usesThem: true } : { swiftShader, subgroups: adapterFeatures.includes('subgroups'), subgroupMaxSize, usesThem: adapterFeatures.includes('subgroups') },
    );
  });
});
