// Runs a part of the portable suite on Dawn in Node (the `webgpu` package):
//   node node-runner.mjs <portable-suite.js> <part> [differential cases]
// The Vulkan driver comes from VK_ICD_FILENAMES (lavapipe: /usr/share/vulkan/icd.d/lvp_icd.json);
// PORTABLE_DAWN_FLAGS passes Dawn options (e.g. backend=opengles) and PORTABLE_FEATURE_LEVEL=compatibility
// asks for a compatibility-mode adapter. TEST_SEED replays a run.
import { create, globals } from 'webgpu';

Object.assign(globalThis, globals);
const [suitePath, ...args] = process.argv.slice(2);
const { main } = await import(new URL(suitePath, `file://${process.cwd()}/`).href);
const flags = (process.env.PORTABLE_DAWN_FLAGS ?? '').split(',').filter(Boolean);
const implementation = `Node + Dawn${flags.length ? ` (${flags.join(', ')})` : ''}`;
// Exit explicitly: Dawn's instance would otherwise keep the process alive.
process.exit(await main(implementation, create(flags), args, process.env));
