#!/usr/bin/env node
/**
 * Runs a command N times and tallies how each run ended (exit code or signal): the reliability
 * measurements of README "Node.js" were made with it.
 *
 *   node scripts/repeat.mjs 20 npm run test:node
 *   node scripts/repeat.mjs 20 node scripts/dawn-experiments/worker-thread.mjs return-with-work
 *
 * Each run's output goes to a log file (REPEAT_LOG_DIR, default a temporary folder); failed runs
 * are listed with their last lines. Exits 1 unless every run passed.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [countArg, command, ...args] = process.argv.slice(2);
const count = Number(countArg);
if (!Number.isInteger(count) || count < 1 || !command) {
  console.error('usage: node scripts/repeat.mjs N command [args…]');
  process.exit(2);
}
const timeoutMs = Number(process.env.REPEAT_TIMEOUT_MS ?? 600_000);
const logDir = process.env.REPEAT_LOG_DIR ?? mkdtempSync(join(tmpdir(), 'repeat-'));

function runOnce(index) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const log = join(logDir, `run-${index}.log`);
      writeFileSync(log, output);
      resolve({ index, code, signal, ms: Date.now() - started, log, output });
    });
  });
}

const tally = new Map();
const failures = [];
for (let i = 1; i <= count; i++) {
  const run = await runOnce(i);
  // A shell reports a child killed by a signal as 128 + its number: 134 abort, 139 segfault.
  const outcome = run.signal ? `signal ${run.signal}` : run.code === 0 ? 'passed' : `exit ${run.code}${run.code > 128 ? ` (signal ${run.code - 128}?)` : ''}`;
  tally.set(outcome, (tally.get(outcome) ?? 0) + 1);
  console.log(`run ${i}/${count}: ${outcome} in ${(run.ms / 1000).toFixed(1)} s`);
  if (outcome !== 'passed') failures.push({ ...run, outcome });
}
for (const f of failures) {
  const tail = f.output.trim().split('\n').slice(-6).join('\n    ');
  console.log(`\nrun ${f.index} (${f.outcome}), log ${f.log}:\n    ${tail}`);
}
const passed = tally.get('passed') ?? 0;
console.log(`\n${[...tally].map(([k, v]) => `${k}: ${v}`).join(', ')}`);
console.log(`${passed} passed, ${count - passed} failed`);
process.exit(passed === count ? 0 : 1);
