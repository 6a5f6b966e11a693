/**
 * Shared by the Dawn experiments: the built library (run `npm run build` first), SwiftShader's
 * environment, and a busy loop. Dawn's Vulkan loader reads LD_LIBRARY_PATH when the process starts,
 * so a script run without VK_ICD_FILENAMES runs itself again with SwiftShader's variables; its
 * ending (exit code, or 128 + signal number, as a shell reports it) is passed on.
 */
import { spawnSync } from 'node:child_process';
import { constants } from 'node:os';

const dist = new URL('../../dist/', import.meta.url);
export const lib = await import(new URL('node.js', dist).href);

export function withDawnEnv() {
  if (process.env.VK_ICD_FILENAMES) return;
  const env = lib.swiftShaderEnv();
  if (!env) return; // a machine with a GPU and a system Vulkan loader needs nothing
  const run = spawnSync(process.execPath, process.argv.slice(1), { env: { ...process.env, ...env }, stdio: 'inherit' });
  process.exit(run.signal ? 128 + constants.signals[run.signal] : run.status ?? 1);
}

export function busy(ms) {
  const end = performance.now() + ms;
  let sum = 0;
  while (performance.now() < end) sum += Math.sqrt(sum + 1);
  return sum;
}

// EXPERIMENT_BATCH (default 16) sets the batch of the [N, 32, 32, 32] NHWC tensor of every call:
// a larger one keeps the GPU busy longer, so an ending is more likely to meet work in flight.
const batch = Number(process.env.EXPERIMENT_BATCH ?? 16);
export const shape = [batch, 32, 32, 32];
export const x = Float32Array.from({ length: batch * 32 * 32 * 32 }, (_, i) => Math.sin(i) * 3 + 1);
export const opts = { shape, layout: 'NHWC' };
