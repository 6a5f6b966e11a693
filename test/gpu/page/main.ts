import { cases } from './cases';
import { decodeWire, encodeWire } from './wire';

/** What the Node side can call: every case takes one JSON argument and resolves to JSON. */
export type Harness = typeof cases;

declare global {
  interface Window {
    harness: Harness;
    /** Runs a case with its argument and result in wire form (see wire.ts). */
    harnessCall(name: string, argument: string): Promise<string>;
    harnessReady: boolean;
  }
}

window.harness = cases;
window.harnessCall = async (name, argument) => {
  if (!Object.hasOwn(cases, name)) throw new Error(`no harness case named '${name}'`);
  const run = cases[name as keyof Harness] as (arg: unknown) => Promise<unknown>;
  return encodeWire(await run(decodeWire(argument)));
};
// Set last, so the Node side never calls into a half-initialised page.
window.harnessReady = true;
