/**
 * The final design: createNodeBatchNorm, Dawn in a GPU host process. The same scenarios as the
 * other two experiments; the application's process must end as it would without the library.
 *
 *   node scripts/repeat.mjs 20 node scripts/dawn-experiments/host-process.mjs busy
 *
 * busy: 5 rounds of busy main thread with work in flight, then dispose.
 * exit-with-work, throw-with-work (expected exit code 1, so repeat counts it as a failure: look
 * at the log for the application's own error), return-with-work (no dispose; returns once the
 * calls in flight are back, since an awaited call keeps Node alive), return-idle (no dispose).
 */
import { busy, lib, opts, x } from './common.mjs';

const mode = process.argv[2] ?? 'busy';
const bn = await lib.createNodeBatchNorm({ backend: 'webgpu', env: lib.swiftShaderEnv() });
const cpu = await lib.createBatchNorm({ backend: 'cpu' });
const expected = await cpu.forwardTrain(x, opts);
await bn.forwardTrain(x, opts);
if (mode === 'busy') {
  for (let round = 0; round < 5; round++) {
    busy(300);
    const inFlight = bn.forwardTrain(x, opts);
    busy(300);
    const out = await inFlight;
    busy(300);
    if (Math.abs(out.mean[0] - expected.mean[0]) > 1e-4) throw new Error(`round ${round}: wrong mean ${out.mean[0]}`);
  }
  if (bn.backend !== 'webgpu') throw new Error('fell back to the CPU path');
  await bn.dispose();
} else if (mode !== 'return-idle') {
  const inFlight = [1, 2, 3, 4].map(() => bn.forwardTrain(x, opts));
  busy(300);
  if (mode === 'exit-with-work') process.exit(0);
  if (mode === 'throw-with-work') throw new Error('the application failed (expected)');
  if (mode !== 'return-with-work') throw new Error(`unknown mode ${mode}`);
  void inFlight;
}
console.log('ok');
