import { expect } from 'vitest';
import { describePortable } from './describe-portable';

// Dawn on Mesa 25's lavapipe: the subgroups kernels at lavapipe's subgroup size (8 with AVX2, not
// SwiftShader's 4), with shader-f16 and timestamp-query on the adapter.
describePortable((s) => {
  expect(s.adapter.description).toMatch(/llvmpipe/);
  expect(s.adapter.features).toEqual(expect.arrayContaining(['subgroups', 'shader-f16', 'timestamp-query']));
  expect(s.adapter.measuredSubgroupSizes?.length).toBeGreaterThan(0);
  if (s.part === 'forward' || s.part === 'backward') expect(s.modules.filter((m) => m.endsWith('+subgroups'))).not.toEqual([]);
  // shader-f16: the float16 cases ran the float16 modules of the kernels.
  if (s.part === 'forward' || s.part === 'backward') expect(s.modules.filter((m) => m.includes('+f16'))).not.toEqual([]);
});
