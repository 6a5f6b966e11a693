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

/**
 * The Deno binary of the `deno` package: its install API finds the platform's package
 * (@deno/linux-x64-glibc, …) and links the binary into place, as its npm launcher would; run
 * directly, so that a timeout's kill reaches Deno itself. An Error says why there is none.
 */
function denoBinary(): string | Error {
  try {
    return (require('deno/install_api.cjs') as { runInstall(): string }).runInstall();
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
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
      const deno = denoBinary();
      if (deno instanceof Error) return `no Deno binary (npm install brings the 'deno' package): ${deno.message}`;
      if (!swiftShaderEnv()) return "SwiftShader's Vulkan driver not found (apt-get install chromium)";
      return undefined;
    },
    command: (suitePath, args) => ({
      command: denoBinary() as string,
      args: ['run', '--unstable-webgpu', '-A', `${here}deno-runner.mjs`, suitePath, ...args],
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
