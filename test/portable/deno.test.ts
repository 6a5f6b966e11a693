import { expect } from 'vitest';
import { describePortable } from './describe-portable';

// Deno's WebGPU (wgpu, naga compiling the WGSL; the stack Firefox ships) on SwiftShader's Vulkan
// driver: another shader compiler and another validation layer than Dawn's.
describePortable((s) => {
  expect(s.implementation).toMatch(/^Deno /);
  expect(s.adapter.features).toContain('timestamp-query');
});
