import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, inject } from 'vitest';
import { isCI } from '../setup/gpu-context';
import './context';

export const nodeGpu = inject('nodeGpu');

/**
 * `describe` for suites that need Dawn. Under CI it is `describe` itself, so these suites cannot
 * skip there (the global setup has already failed the run without an adapter); elsewhere, without
 * one, they are skipped after the setup's warning.
 */
export function describeNodeGpu(name: string, body: () => void): void {
  (nodeGpu.available || isCI() ? describe : describe.skip)(name, body);
}

export type NodeLib = typeof import('../../src/node/index');

/** The built `webgpu-batchnorm/node`, as an application imports it. */
export async function loadNodeLib(): Promise<NodeLib> {
  return (await import(/* @vite-ignore */ `${nodeGpu.libDir}node.js`)) as NodeLib;
}

/** Keeps this thread busy for `ms`, as a CPU reference or data preparation would. */
export function busy(ms: number): number {
  const end = performance.now() + ms;
  let sum = 0;
  while (performance.now() < end) sum += Math.sqrt(sum + 1);
  return sum;
}

export interface ScriptRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs an ES module in a plain `node` (no Vite, no loader), from the built library's folder so that
 * './node.js' and 'webgpu' resolve as in an application.
 */
export function runScript(source: string, env: Record<string, string> = {}, timeoutMs = 60_000): Promise<ScriptRun> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', source], {
      cwd: nodeGpu.libDir,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`script did not finish within ${timeoutMs} ms; stdout: ${stdout}; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started });
    });
  });
}

/** Whether a process exists (a zombie awaiting its reaper counts as gone). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // Linux: state Z is a zombie; it has exited.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** Waits until `pid` has exited, up to `timeoutMs`; true when it did. */
export async function waitForExit(pid: number, timeoutMs = 10_000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (!processAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !processAlive(pid);
}
