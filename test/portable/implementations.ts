/// <reference types="node" />
/**
 * The WebGPU implementations the portable suite runs on outside the browser, one vitest project
 * each: how to start a runner there, and what it needs installed (see .ci/run, which installs it).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { swiftShaderEnv } from '../../src/node/swiftshader';

export type ImplementationName = 'lavapipe' | 'deno' | 'compat';

export interface RunnerCommand {
  command: string;
  args: string[];
  env: Record<string, string>;
}

export interface Implementation {
  name: ImplementationName;
  /** What a reader of the counts sees. */
  title: string;
  /** Why this machine cannot run it (nothing installed), or undefined when it can try. */
  missing(): string | undefined;
  /** The runner process for `<part> [differential cases]` on the built suite. */
  command(suitePath: string, args: string[]): RunnerCommand;
}

const here = fileURLToPath(new URL('.', import.meta.url));
const require = createRequire(import.meta.url);
/** Mesa's lavapipe (Debian: mesa-vulkan-drivers; Mesa 25 from bookworm-backports, Dawn refuses Mesa 22's). */
export const lavapipeIcd = '/usr/share/vulkan/icd.d/lvp_icd.json';

const nodeRunner = (suitePath: string, args: string[], env: Record<string, string>): RunnerCommand => ({
  command: process.execPath,
  args: [`${here}node-runner.mjs`, suitePath, ...args],
  env,
});

function denoLauncher(): string | undefined {
  try {
    return require.resolve('deno/bin.cjs');
  } catch {
    return undefined;
  }
}

export const implementations: Record<ImplementationName, Implementation> = {
  lavapipe: {
    name: 'lavapipe',
    title: "Node + Dawn on Mesa's lavapipe (Vulkan)",
    missing: () => (existsSync(lavapipeIcd) ? undefined : `${lavapipeIcd} not found (apt-get install -t bookworm-backports mesa-vulkan-drivers)`),
    command: (suitePath, args) => nodeRunner(suitePath, args, { VK_ICD_FILENAMES: lavapipeIcd }),
  },
  deno: {
    name: 'deno',
    title: "Deno (wgpu + naga) on SwiftShader's Vulkan driver",
    missing() {
      if (!denoLauncher()) return "the 'deno' package is not installed (npm install)";
      if (!swiftShaderEnv()) return "SwiftShader's Vulkan driver not found (apt-get install chromium)";
      return undefined;
    },
    command: (suitePath, args) => ({
      // The package's launcher finds the platform's binary (@deno/linux-x64-glibc, …).
      command: process.execPath,
      args: [denoLauncher() ?? 'deno/bin.cjs', 'run', '--unstable-webgpu', '-A', `${here}deno-runner.mjs`, suitePath, ...args],
      env: swiftShaderEnv() ?? {},
    }),
  },
  compat: {
    name: 'compat',
    title: "Node + Dawn's OpenGL ES backend on Mesa's llvmpipe, compatibility mode",
    missing: () => (existsSync('/usr/lib/x86_64-linux-gnu/libEGL_mesa.so.0') || existsSync('/usr/lib/aarch64-linux-gnu/libEGL_mesa.so.0') ? undefined : "Mesa's EGL not found (apt-get install libegl-mesa0)"),
    // Surfaceless EGL: OpenGL ES with no display server.
    command: (suitePath, args) =>
      nodeRunner(suitePath, args, { EGL_PLATFORM: 'surfaceless', PORTABLE_DAWN_FLAGS: 'backend=opengles', PORTABLE_FEATURE_LEVEL: 'compatibility' }),
  },
};
