// Runs a part of the portable suite on Deno's WebGPU (wgpu + naga):
//   deno run --unstable-webgpu -A deno-runner.mjs <portable-suite.js> <part> [differential cases]
// The Vulkan driver comes from VK_ICD_FILENAMES (SwiftShader: chromium's vk_swiftshader_icd.json,
// with LD_LIBRARY_PATH at the same folder). TEST_SEED replays a run.
const [suitePath, ...args] = Deno.args;
const { main } = await import(new URL(suitePath, `file://${Deno.cwd()}/`).href);
if (!navigator.gpu) {
  console.error('navigator.gpu is undefined: run Deno with --unstable-webgpu');
  Deno.exit(2);
}
Deno.exit(await main(`Deno ${Deno.version.deno} (wgpu)`, navigator.gpu, args, Deno.env.toObject()));
