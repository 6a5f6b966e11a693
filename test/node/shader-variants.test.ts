import { describe, expect, it } from 'vitest';
import { shaderBindings } from '../support/wgsl-declarations';
import { shaders, shaderVariant, wgslFiles, type ShaderSource } from '../../src/gpu/shader-sources';
import { defaultTuning, resolveTuning, usesSubgroups } from '../../src/gpu/tuning';
import { paramsLayout } from '../../src/gpu/uniforms';

const withoutComments = (code: string) => code.replace(/\/\/.*$/gm, '');
const kernels: ShaderSource[] = Object.values(shaders);
const withVariant = kernels.filter((shader) => shader.subgroups !== undefined);

describe('subgroups variants of the workgroup sums (shader-sources.ts)', () => {
  it('exist for the Runs reductions, the one-dispatch kernels and the norm backward sums, as modules of their own name', () => {
    expect(withVariant.map((shader) => shader.name)).toEqual(['stats-runs', 'backward-reduce-runs', 'fused-small-forward', 'fused-small-backward', 'norm-backward-rows', 'norm-backward-params']);
    for (const shader of withVariant) {
      expect(shader.subgroups!.name).toBe(`${shader.name}+subgroups`);
      expect(shader.subgroups!.subgroups).toBeUndefined();
    }
  });

  it('start with `enable subgroups;`, the only modules that use subgroup operations', () => {
    for (const shader of kernels) {
      const code = withoutComments(shader.code);
      expect(code, shader.name).not.toMatch(/\benable\b|\bsubgroup[A-Z]\w*\s*\(/);
      if (!shader.subgroups) continue;
      const variant = withoutComments(shader.subgroups.code).trimStart();
      expect(variant.startsWith('enable subgroups;'), shader.name).toBe(true);
      expect(variant).toMatch(/\bsubgroupAdd\s*\(/);
      // One workgroupSum and one WORKGROUP_SIZE override per module, whichever helper came first.
      for (const module of [code, variant]) {
        expect(module.match(/\bfn\s+workgroupSum\b/g)).toHaveLength(1);
        expect(module.match(/\boverride\s+WORKGROUP_SIZE\b/g)).toHaveLength(1);
      }
    }
  });

  it('declare the same Params and bindings as the barrier-tree module, so host code serves both', () => {
    for (const shader of withVariant) {
      expect(paramsLayout(shader.subgroups!)).toEqual(paramsLayout(shader));
      expect([...shaderBindings(shader.subgroups!.code)]).toEqual([...shaderBindings(shader.code)]);
      // Apart from the workgroupSum implementation (and its enable directive), the text is the same.
      const without = (code: string, file: string) => code.replace(/^enable [^;]+;\n?/m, '').replace(wgslFiles[file].replace(/^enable [^;]+;\s*$/m, ''), '');
      expect(without(shader.subgroups!.code, 'workgroup-reduce-subgroups')).toBe(without(shader.code, 'workgroup-reduce'));
    }
  });

  it('are used when the device has the feature and the tuning allows them', () => {
    const subgroups = new Set(['subgroups', 'timestamp-query']);
    const none = new Set(['timestamp-query']);
    expect(usesSubgroups(subgroups, defaultTuning)).toBe(true);
    expect(usesSubgroups(subgroups, { ...defaultTuning, useSubgroups: true })).toBe(true);
    expect(usesSubgroups(subgroups, { ...defaultTuning, useSubgroups: false })).toBe(false);
    expect(usesSubgroups(none, { ...defaultTuning, useSubgroups: true })).toBe(false);
    expect(shaderVariant(shaders.statsRuns, true)).toBe(shaders.statsRuns.subgroups);
    expect(shaderVariant(shaders.statsRuns, false)).toBe(shaders.statsRuns);
    expect(shaderVariant(shaders.finalize, true)).toBe(shaders.finalize);
  });

  it('tuning.useSubgroups must be a boolean', () => {
    expect(resolveTuning({ useSubgroups: false }, 256).useSubgroups).toBe(false);
    expect(() => resolveTuning({ useSubgroups: 0 as unknown as boolean }, 256)).toThrow(/useSubgroups must be a boolean/);
  });
});
