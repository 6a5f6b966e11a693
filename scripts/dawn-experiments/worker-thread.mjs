/**
 * The worker-thread design: a worker thread owns the Dawn device and runs the kernels; the main
 * thread sends inputs (transferred ArrayBuffers), stays busy for 300 ms at a time, and ends in one
 * of four ways.
 *
 *   node scripts/repeat.mjs 20 node scripts/dawn-experiments/worker-thread.mjs busy-dispose
 *
 * busy-dispose: 5 rounds of busy main thread with work in flight, then an orderly shutdown
 *   (the worker destroys its device and ends by itself).
 * terminate-with-work: worker.terminate() with calls in flight.
 * exit-with-work: process.exit(0) with calls in flight.
 * return-with-work: the main module returns with calls in flight and the worker unref()'d, as
 *   an application that forgot to dispose would (Node stops the worker at exit).
 */
import { Worker } from 'node:worker_threads';
import { busy, opts, withDawnEnv, x } from './common.mjs';

withDawnEnv();
const mode = process.argv[2] ?? 'busy-dispose';
const worker = new Worker(new URL('./worker-thread-host.mjs', import.meta.url));
worker.on('error', (error) => {
  console.error('worker error', error);
  process.exitCode = 3;
});
const replies = new Map();
let nextId = 1;
worker.on('message', (message) => replies.get(message.id)?.(message));
await new Promise((resolve) => worker.once('message', resolve));
function call() {
  const id = nextId++;
  const copy = x.slice();
  worker.postMessage({ id, x: copy.buffer, opts }, [copy.buffer]);
  return new Promise((resolve) => replies.set(id, resolve));
}
await call();
if (mode === 'busy-dispose') {
  for (let round = 0; round < 5; round++) {
    const inFlight = call();
    busy(300);
    await inFlight;
    busy(300);
  }
  worker.postMessage({ type: 'dispose' });
  console.log('ok');
} else {
  for (let i = 0; i < 4; i++) void call();
  busy(300);
  if (mode === 'terminate-with-work') await worker.terminate();
  else if (mode === 'exit-with-work') process.exit(0);
  else if (mode === 'return-with-work') worker.unref();
  else throw new Error(`unknown mode ${mode}`);
  console.log('ok');
}
