import { describe, expect, it } from 'vitest';
import { foldWorkgroups } from '../../src/gpu/grid';
import { planApply, planStats } from '../../src/gpu/plan';
import { shaders } from '../../src/gpu/shader-sources';
import { defaultTuning } from '../../src/gpu/tuning';
import { packParams, paramsLayout } from '../../src/gpu/uniforms';
import { channelView } from '../../src/layout';

describe('launch planning', () => {
  it('folds dispatches above the per-dimension limit into a 2-D grid that covers them', () => {
    expect(foldWorkgroups(10, 65535)).toEqual([10, 1]);
    for (const n of [65536, 70001, 65535 * 3 + 1, 4_000_000]) {
      const [x, y] = foldWorkgroups(n, 65535);
      expect(x).toBeLessThanOrEqual(65535);
      expect(y).toBeLessThanOrEqual(65535);
      expect(x * y).toBeGreaterThanOrEqual(n);
      expect(x * (y - 1)).toBeLessThan(n);
    }
  });

  it('picks the vec4 entry points exactly when the layout allows them', () => {
    const max = 65535;
    expect(planApply(channelView([8, 12], 'NC'), defaultTuning, max).entryPoint).toBe('applyVec4Channels');
    expect(planApply(channelView([8, 7], 'NC'), defaultTuning, max).entryPoint).toBe('applyScalar');
    expect(planApply(channelView([2, 3, 4, 4], 'NCHW'), defaultTuning, max).entryPoint).toBe('applyVec4Run');
    expect(planApply(channelView([2, 3, 5, 3], 'NCHW'), defaultTuning, max).entryPoint).toBe('applyScalar');
    expect(planStats(channelView([64, 8], 'NC'), defaultTuning, max).launch.entryPoint).toBe('statsRowsVec4');
    expect(planStats(channelView([64, 5, 8], 'NCL'), defaultTuning, max).launch.entryPoint).toBe('statsRunsVec4');
    expect(planStats(channelView([64, 5, 7], 'NCL'), defaultTuning, max).launch.entryPoint).toBe('statsRunsScalar');
  });

  it('gives every statistics thread at least one row and covers every value', () => {
    for (const shape of [[2, 1], [3, 7], [100000, 3], [17, 4096]]) {
      const plan = planStats(channelView(shape, 'NC'), defaultTuning, 65535);
      expect(plan.chunks).toBeGreaterThanOrEqual(1);
      expect(plan.chunks).toBeLessThanOrEqual(shape[0]);
    }
    const runs = planStats(channelView([3, 2, 1000], 'NCL'), defaultTuning, 65535);
    const p = runs.launch.params;
    expect(p.chunkLength * p.chunks).toBeGreaterThanOrEqual(p.valuesPerChannel);
    expect(p.chunkLength * (p.chunks - 1)).toBeLessThan(p.valuesPerChannel);
  });
});

describe('uniform layouts read from the WGSL', () => {
  it('finds every Params field of every shader, in order', () => {
    expect(paramsLayout(shaders.finalize).fields.map((f) => f.name)).toEqual(['channels', 'chunks', 'eps', 'keep', 'take', 'varianceFactor', 'nan']);
    for (const shader of Object.values(shaders)) {
      if (/struct\s+Params/.test(shader.code)) expect(paramsLayout(shader).byteLength % 16).toBe(0);
    }
  });

  it('packs by name and refuses missing, unknown or out-of-range fields', () => {
    const bytes = packParams(shaders.inferenceFold, { channels: 3, eps: 0.5 });
    expect(new Uint32Array(bytes)[0]).toBe(3);
    expect(new Float32Array(bytes)[1]).toBe(0.5);
    expect(() => packParams(shaders.inferenceFold, { channels: 3 })).toThrow(/eps/);
    expect(() => packParams(shaders.inferenceFold, { channels: 3, eps: 1, extra: 1 })).toThrow(/extra/);
    expect(() => packParams(shaders.inferenceFold, { channels: -1, eps: 1 })).toThrow(/u32/);
  });
});
