/// <reference types="node" />
import { spawn } from 'node:child_process';
import { implementations, type ImplementationName } from './implementations';
import { SUMMARY_PREFIX, type Part, type PortableSummary } from './suite';

export interface PartRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Everything the runner printed, stdout and stderr interleaved. */
  output: string;
  summary: (PortableSummary & { implementation: string }) | undefined;
}

/** Runs one part of the suite in its own runner process (a crash stays in that part). */
export function runPart(name: ImplementationName, suitePath: string, part: Part, seed: number, extra: string[] = [], timeoutMs = 280_000): Promise<PartRun> {
  const { command, args, env } = implementations[name].command(suitePath, [part, ...extra]);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env, TEST_SEED: String(seed) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const take = (d: string) => (output += d);
    child.stdout.setEncoding('utf8').on('data', take);
    child.stderr.setEncoding('utf8').on('data', take);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} ${part} did not finish within ${timeoutMs} ms; it printed:\n${output}`));
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const line = output.split('\n').find((l) => l.startsWith(SUMMARY_PREFIX));
      resolve({ code, signal, output, summary: line ? JSON.parse(line.slice(SUMMARY_PREFIX.length)) : undefined });
    });
  });
}

/** The runner's readable lines, without the JSON one. */
export function readable(output: string): string {
  return output
    .split('\n')
    .filter((l) => !l.startsWith(SUMMARY_PREFIX) && !/artificially reduced/.test(l))
    .join('\n')
    .trim();
}
