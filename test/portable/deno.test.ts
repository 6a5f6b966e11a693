import { expect } from 'vitest';
import { describePortable } from './describe-portable';

// Deno's WebGPU (wgpu, naga compiling the WGSL; the stack Firefox ships) on SwiftShader's Vulkan
// driver: another shader compiler and another validation layer than Dawn's.
describePortable((s) => {
  expect(s.implementation).toMatch(/^Deno /);
  expect(s.adapter.features).toContain('timestamp-query');
  // No shader-f16: the float16 cases checked the refusal and the CPU path, and no float16 module was built.
  expect(s.adapter.features).not.toContain('shader-f16');
  expect(s.modules.filter((m) => m.includes('+f16'))).toEqual([]);
});
