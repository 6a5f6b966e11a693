import { BatchNormError } from '../errors';
import type { PreparedCall } from './program-cache';

/*
 * GPU errors (validation, out-of-memory) are reported asynchronously through error scopes. Here
 * they become BatchNormErrors('gpu-error') naming the call, the kind and WebGPU's own message, which
 * names the GPU object (every object the library makes is labelled "BatchNorm.…").
 */

type Scoped = [validation: Promise<GPUError | null>, outOfMemory: Promise<GPUError | null>];

function pushScopes(device: GPUDevice): void {
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
}

function popScopes(device: GPUDevice): Scoped {
  // A lost device resolves its scopes with null; a rejection (no scope to pop) is a bug elsewhere,
  // reported as an error rather than thrown from here.
  const settle = (p: Promise<GPUError | null>) => p.catch((e: unknown) => ({ message: `popErrorScope failed: ${String(e)}` }) as GPUError);
  const validation = settle(device.popErrorScope());
  const outOfMemory = settle(device.popErrorScope());
  return [validation, outOfMemory];
}

/** The message of a failed call: an out-of-memory error first, as it usually causes the rest. */
function describe(what: string, validation: GPUError | null, outOfMemory: GPUError | null): string | undefined {
  const parts: string[] = [];
  if (outOfMemory) parts.push(`GPU out of memory: ${outOfMemory.message.trim()}`);
  if (validation) parts.push(`${outOfMemory ? 'then ' : ''}GPU validation error: ${validation.message.trim()}`);
  return parts.length > 0 ? `${what}: ${parts.join('; ')}` : undefined;
}

/**
 * Runs the synchronous `work` inside validation and out-of-memory error scopes and pops them at
 * once; `error` resolves to what they caught. Scopes form one stack per device, so they must never
 * stay open across an await: two concurrent calls would then pop each other's. A host-array call
 * makes every device call (uploads, encoding, submit, mapAsync) before its first await, so scoping
 * that synchronous part scopes the whole call.
 */
export function scoped<T>(device: GPUDevice, what: string, work: () => T): { value: T; error: Promise<BatchNormError | undefined> } {
  pushScopes(device);
  let value: T;
  try {
    value = work();
  } catch (thrown) {
    // A synchronous throw (argument checks run before any device call): balance the stack, rethrow.
    void Promise.all(popScopes(device));
    throw thrown;
  }
  const scopes = popScopes(device);
  const error = Promise.all(scopes).then(([validation, outOfMemory]) => {
    const message = describe(what, validation, outOfMemory);
    return message === undefined ? undefined : new BatchNormError('gpu-error', message);
  });
  return { value, error };
}

/**
 * An async call whose device calls all happen before its first await (see `scoped`), with its GPU
 * errors surfacing as a BatchNormError from the call instead of a console warning and a wrong
 * result. A GPU error wins over the exception it caused (e.g. mapAsync's OperationError).
 */
export async function withErrorScopes<T>(device: GPUDevice, what: string, work: () => Promise<T>): Promise<T> {
  const { value, error } = scoped(device, what, work);
  const outcome = await value.then(
    (result) => ({ ok: true as const, result }),
    (reason: unknown) => ({ ok: false as const, reason }),
  );
  const gpuError = await error;
  if (gpuError) throw gpuError;
  if (!outcome.ok) throw outcome.reason;
  return outcome.result;
}

/**
 * Creates a buffer inside its own error scopes and calls `onError` if the creation failed, so a
 * cache can drop the invalid buffer instead of handing it out forever: one failed allocation
 * (out of memory) then costs one call, not the engine.
 */
export function guardedBuffer(device: GPUDevice, descriptor: GPUBufferDescriptor, onError: (buffer: GPUBuffer) => void): GPUBuffer {
  pushScopes(device);
  const buffer = device.createBuffer(descriptor);
  const [validation, outOfMemory] = popScopes(device);
  void Promise.all([validation, outOfMemory]).then(([v, o]) => {
    if (v || o) onError(buffer);
  });
  return buffer;
}

/**
 * Error scopes for the synchronous GPU-resident calls (encode…): each call's device work runs in its
 * own scopes, and what they catch is kept (the first few messages, and a count) until `check()`
 * reports it. Scopes capture the errors of device calls (buffers, bind groups, pipelines); commands
 * recorded into the caller's encoder are validated by the caller's finish() and submit(). A call
 * served from the engine's cache makes no device call (program-cache.ts), so it opens no scope.
 */
export class GpuErrorLog {
  private readonly pending = new Set<Promise<void>>();
  private readonly messages: string[] = [];
  private count = 0;

  constructor(private readonly keep = 8) {}

  /**
   * `onError` runs when the scopes report an error, e.g. to drop an object that was never valid;
   * `onClean` when they report none, e.g. to keep objects for later calls.
   */
  capture<T>(device: GPUDevice, what: string, work: () => T, onError?: (value: T) => void, onClean?: () => void): T {
    const { value, error } = scoped(device, what, work);
    const done = error.then((e) => {
      if (!e) {
        onClean?.();
        return;
      }
      onError?.(value);
      this.count += 1;
      if (this.messages.length < this.keep) this.messages.push(e.message);
    });
    this.pending.add(done);
    void done.finally(() => this.pending.delete(done));
    return value;
  }

  /** A prepared encode… call: recorded from the cache without scopes, or made inside them. */
  run<T>(device: GPUDevice, what: string, call: PreparedCall<T>): T {
    if (call.cached) return call.cached();
    return this.capture(device, what, call.create, undefined, call.keep);
  }

  /** Waits for the scopes of every call so far; throws 'gpu-error' with what they caught, once. */
  async check(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
    if (this.count === 0) return;
    const more = this.count > this.messages.length ? `\n(and ${this.count - this.messages.length} more)` : '';
    const message = `${this.count} GPU error${this.count === 1 ? '' : 's'} in GPU-resident calls:\n${this.messages.join('\n')}${more}`;
    this.messages.length = 0;
    this.count = 0;
    throw new BatchNormError('gpu-error', message);
  }
}
