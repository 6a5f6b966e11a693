#!/usr/bin/env node
// Offline seed sweep: runs the forward and backward GPU matrices (test/gpu/forward.test.ts,
// test/gpu/backward.test.ts) for consecutive seeds and reports, per seed, the failures and the
// largest share of a tolerance any check used (1 = at the tolerance, which is the stated bound).
// One vitest run covers a chunk of seeds (TEST_SEEDS), so the browser and the page start once per
// chunk. Not part of CI: it takes about a minute per seed on a software adapter.
//
//   node scripts/seed-sweep.mjs --from 1 --count 500 [--chunk 10] [--out sweep] [--files forward,backward]
//
// Writes <out>.jsonl (one line per case, appended by the tests) and <out>.log (one line per seed and
// a running summary), so a sweep can be followed with `tail -f` and resumed with a later --from.
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 && at + 1 < process.argv.length ? process.argv[at + 1] : fallback;
}

const from = Number(option('from', '1'));
const count = Number(option('count', '500'));
const chunk = Number(option('chunk', '10'));
const out = resolve(option('out', 'seed-sweep'));
const files = option('files', 'forward,backward')
  .split(',')
  .map((name) => `test/gpu/${name}.test.ts`);
if (![from, count, chunk].every((n) => Number.isInteger(n) && n >= 0) || chunk < 1) {
  console.error('usage: node scripts/seed-sweep.mjs --from N --count K [--chunk C] [--out PATH] [--files forward,backward]');
  process.exit(2);
}

const jsonl = `${out}.jsonl`;
const logFile = `${out}.log`;
const log = (line) => {
  console.log(line);
  appendFileSync(logFile, `${line}\n`);
};

/** Per seed: cases seen, cases failed, and the worst share of a tolerance with where it happened. */
function summarize(seeds) {
  const wanted = new Set(seeds);
  const bySeed = new Map(seeds.map((seed) => [seed, { cases: 0, failed: [], used: 0, where: '' }]));
  if (!existsSync(jsonl)) return bySeed;
  for (const line of readFileSync(jsonl, 'utf8').split('\n')) {
    if (!line) continue;
    const entry = JSON.parse(line);
    if (!wanted.has(entry.seed)) continue;
    const s = bySeed.get(entry.seed);
    s.cases++;
    if (entry.failed) s.failed.push(`${entry.suite}: ${entry.name}`);
    if (entry.used > s.used) [s.used, s.where] = [entry.used, `${entry.suite}: ${entry.name}: ${entry.worst}`];
  }
  return bySeed;
}

let worst = { used: 0, where: '', seed: -1 };
let failedSeeds = 0;
log(`seed sweep ${new Date().toISOString()}: seeds ${from}..${from + count - 1}, ${chunk} per run, ${files.join(' ')}`);
for (let first = from; first < from + count; first += chunk) {
  const last = Math.min(first + chunk, from + count) - 1;
  const started = Date.now();
  const run = spawnSync('npx', ['vitest', 'run', '--project', 'gpu', ...files], {
    env: { ...process.env, CI: 'true', TEST_SEEDS: `${first}-${last}`, SWEEP_LOG: jsonl },
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  const seeds = Array.from({ length: last - first + 1 }, (_, k) => first + k);
  for (const [seed, s] of summarize(seeds)) {
    if (s.failed.length > 0) failedSeeds++;
    if (s.used > worst.used) worst = { used: s.used, where: s.where, seed };
    const status = s.failed.length > 0 ? `FAILED ${s.failed.length}: ${s.failed.join('; ')}` : 'ok';
    log(`seed ${seed}: ${s.cases} cases, ${status}, worst ${(100 * s.used).toFixed(1)}% of tolerance (${s.where})`);
  }
  const tail = (run.stdout ?? '').split('\n').filter((l) => /Tests |Test Files /.test(l)).join(' | ');
  log(`seeds ${first}..${last}: vitest exit ${run.status} in ${((Date.now() - started) / 1000).toFixed(0)} s ${tail.replace(/\x1b\[[0-9;]*m/g, '')}`);
  log(`so far: seeds ${from}..${last}, ${failedSeeds} with failures, worst ${(100 * worst.used).toFixed(1)}% of tolerance at seed ${worst.seed} (${worst.where})`);
}
