import { describe, expect, inject, it } from 'vitest';
import { isCI } from '../setup/gpu-context';
import { seedFromEnv } from '../support/random';
import './context';
import { implementations } from './implementations';
import { readable, runPart, type PartRun } from './run-part';
import type { Part } from './suite';

/** Random differential cases per run, as many as the browser suite runs. */
export const DIFFERENTIAL_CASES = 2400;

type Summary = NonNullable<PartRun['summary']>;

/**
 * The portable suite's parts on the implementation of this project, each in its own runner process:
 * exit status 0 and zero failures, with the runner's own counts printed. `expectAdapter` states what
 * the implementation must offer, so that a run on some other adapter does not pass for this one.
 * Under CI it is `describe` itself (the global setup has already failed a run without the
 * implementation); elsewhere, without it, the suite is skipped after the setup's warning.
 */
export function describePortable(expectAdapter: (summary: Summary) => void, differentialCases = DIFFERENTIAL_CASES): void {
  const context = inject('portable');
  const seed = seedFromEnv();
  const { title } = implementations[context.implementation];
  console.log(`portable suite on ${title}: TEST_SEED=${seed} (replay a failure with TEST_SEED=${seed})`);
  (context.available || isCI() ? describe : describe.skip)(`portable GPU suite: ${title}`, () => {
    const parts: [Part, string[]][] = [['differential', [String(differentialCases)]], ['forward', []], ['backward', []], ['optimizers', []], ['non-finite', []], ['norms', []]];
    it.each(parts)('%s: zero mismatches', async (part, extra) => {
      if (!context.available) throw new Error(`${title} cannot run: ${context.reason}`);
      const run = await runPart(context.implementation, context.suitePath, part, seed, extra);
      console.log(readable(run.output));
      expect(run.summary, `the runner printed no summary (exit ${run.code ?? run.signal})`).toBeDefined();
      const summary = run.summary!;
      expect(summary.failures).toEqual([]);
      expect(run.code).toBe(0);
      expect(summary.cases).toBeGreaterThan(0);
      if (part === 'differential') expect(summary.cases).toBe(differentialCases);
      if (part === 'non-finite') expect(summary.cases).toBeGreaterThanOrEqual(50);
      expectAdapter(summary);
    });
  });
}
