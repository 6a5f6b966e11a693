/**
 * Dawn in the application's own thread (createBatchNorm({ gpu: create([]) })), with the main
 * thread busy for 300 ms at a time while the device has work: before a call, while it is in
 * flight, and after it (the crash reported for Dawn's Node binding).
 *
 *   node scripts/repeat.mjs 20 node scripts/dawn-experiments/main-thread.mjs busy
 *   node scripts/repeat.mjs 20 node scripts/dawn-experiments/main-thread.mjs exit-with-work
 *
 * busy: 5 rounds, dispose, return. exit-with-work: process.exit(0) with 4 calls in flight.
 */
import { busy, lib, opts, withDawnEnv, x } from './common.mjs';

withDawnEnv();
const mode = process.argv[2] ?? 'busy';
const { create, globals } = await import('webgpu');
Object.assign(globalThis, globals);
const bn = await lib.createBatchNorm({ backend: 'webgpu', gpu: create([]) });
const cpu = await lib.createBatchNorm({ backend: 'cpu' });
const expected = await cpu.forwardTrain(x, opts);
await bn.forwardTrain(x, opts);
if (mode === 'exit-with-work') {
  for (let i = 0; i < 4; i++) void bn.forwardTrain(x, opts);
  busy(300);
  process.exit(0);
}
for (let round = 0; round < 5; round++) {
  busy(300);
  const inFlight = bn.forwardTrain(x, opts);
  busy(300);
  const out = await inFlight;
  busy(300);
  if (Math.abs(out.mean[0] - expected.mean[0]) > 1e-4) throw new Error(`round ${round}: wrong mean ${out.mean[0]}`);
}
bn.dispose();
console.log('ok');
