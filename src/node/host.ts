/// <reference types="node" />
/**
 * The GPU host process of `createNodeBatchNorm` (built as dist/node-host.js). It owns the Dawn
 * device and runs the library's engine; the application's process sends it host arrays and gets
 * results back. Keeping Dawn out of the application's process is what makes the Node GPU path
 * reliable: Dawn's Node binding aborts or segfaults when the thread that owns a device is stopped
 * with work in flight (a worker thread at process exit, process.exit(), an uncaught exception), and
 * here any such crash ends this process only, which the application's side turns into a fallback
 * to the CPU path.
 */
import { createBatchNorm, type BatchNorm } from '../engine';
import { BatchNormError } from '../errors';
import type { GpuEntry } from '../gpu/device';
import type { FromHost, HostSettings, ToHost, WireError } from './protocol';
import { jsonFileTuningStore } from './json-file-store';

let engine: BatchNorm | undefined;
let closing = false;

function send(message: FromHost): void {
  // The parent may be gone already; there is nobody left to tell then.
  if (process.connected) process.send!(message, undefined, {}, () => {});
}

function toWire(error: unknown): WireError {
  if (error instanceof BatchNormError) return { name: error.name, code: error.code, message: error.message };
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: 'Error', message: String(error) };
}

/** Destroys the device, then leaves: nothing of Dawn's may be running while the process exits. */
function shutDown(code: number): void {
  if (closing) return;
  closing = true;
  const current = engine;
  engine = undefined;
  try {
    current?.dispose();
  } catch {
    // Exiting anyway.
  }
  // One macrotask for Dawn to retire what destroy() released, then go.
  setTimeout(() => process.exit(code), 10);
}

async function start(settings: HostSettings): Promise<void> {
  try {
    const dawn = (await import(/* @vite-ignore */ settings.dawnModule)) as { create(flags: string[]): GpuEntry; globals?: object };
    // The kernels use GPUBufferUsage and friends as globals, as in a browser.
    if (dawn.globals) Object.assign(globalThis, dawn.globals);
    const gpu = dawn.create(settings.dawnFlags);
    const autotune = settings.autotune && (settings.autotune.file ? { store: jsonFileTuningStore(settings.autotune.file) } : true);
    engine = await createBatchNorm({ backend: 'webgpu', gpu, verify: settings.verify, tuning: settings.tuning, checkFinite: settings.checkFinite, autotune });
    engine.addEventListener('devicelost', (event) => {
      const { reason, message } = (event as CustomEvent<{ reason: string; message: string }>).detail;
      send({ type: 'lost', reason, message });
      shutDown(0);
    });
    send({ type: 'ready', adapter: engine.adapter! });
  } catch (error) {
    send({ type: 'failed', error: toWire(error) });
    shutDown(0);
  }
}

async function call(id: number, method: string, args: unknown[]): Promise<void> {
  try {
    if (!engine) throw new BatchNormError('disposed', 'the GPU host has no engine');
    const run = (engine as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[method];
    if (typeof run !== 'function') throw new Error(`unknown method ${method}`);
    const value = await run.apply(engine, args);
    send({ type: 'result', id, value });
  } catch (error) {
    send({ type: 'error', id, error: toWire(error) });
  }
}

process.on('message', (message: ToHost) => {
  if (closing) return;
  if (message.type === 'start') void start(message.settings);
  else if (message.type === 'call') void call(message.id, message.method, message.args);
  else if (message.type === 'dispose') shutDown(0);
});
// The application ended (normally, by process.exit, or by a crash): stop cleanly.
process.on('disconnect', () => shutDown(0));
