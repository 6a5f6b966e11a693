import { expect } from 'vitest';
import { DIFFERENTIAL_CASES, describePortable } from './describe-portable';

// Dawn's OpenGL ES backend on Mesa's llvmpipe, asked for featureLevel 'compatibility': the engine's
// own device is a compatibility-mode device (no 'core-features-and-limits'), with that mode's
// limits (128 invocations per workgroup, 8 storage buffers per compute stage, 256-byte offsets).
describePortable((s) => {
  expect(s.adapter.description).toMatch(/OpenGL ES/);
  expect(s.device.features).not.toContain('core-features-and-limits');
  expect(s.device.maxComputeInvocationsPerWorkgroup).toBeLessThanOrEqual(128);
  // A quarter of the browser suite's random cases: the random shapes take many distinct launches
  // (workgroup sizes, entry points, options of the one-dispatch kernels), each compiled to a GLSL
  // program on llvmpipe, the slowest compiler here (600 cases: about 20 s on an idle machine, several
  // minutes for 2 400 on a loaded one).
}, DIFFERENTIAL_CASES / 4);
