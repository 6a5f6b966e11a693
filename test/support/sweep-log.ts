import { appendFileSync } from 'node:fs';

/*
 * The offline seed sweep (scripts/seed-sweep.mjs) runs the forward and backward GPU matrices for
 * many seeds (TEST_SEEDS) and reads how much of each tolerance every case used from the JSON lines
 * these tests append to SWEEP_LOG. Without SWEEP_LOG nothing is written.
 */
const path = process.env.SWEEP_LOG;

export interface SweptCheck {
  output: string;
  path: string;
  failure: string | null;
  maxAbs: number;
  maxRel: number;
  used: number;
}

export function recordSweepCase(suite: string, seed: number, name: string, checks: SweptCheck[]): void {
  if (!path) return;
  let worst: SweptCheck | undefined;
  for (const c of checks) if (!worst || c.used > worst.used) worst = c;
  const line = {
    suite,
    seed,
    name,
    failed: checks.some((c) => c.failure !== null),
    used: worst?.used ?? 0,
    worst: worst ? `${worst.path} ${worst.output}` : '',
    maxAbs: worst?.maxAbs ?? 0,
    // Per output: [share of the tolerance used, max |diff|, max |diff| / |expected|].
    perOutput: Object.fromEntries(checks.map((c) => [`${c.path} ${c.output}`, [c.used, c.maxAbs, c.maxRel]])),
  };
  appendFileSync(path, `${JSON.stringify(line)}\n`);
}
