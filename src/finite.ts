import { BatchNormError } from './errors';
import type { ChannelView } from './layout';

/**
 * The `checkFinite` option of createBatchNorm: host-array calls refuse NaN and ±Inf with a
 * BatchNormError('non-finite') instead of propagating them. Inputs are scanned before any GPU work;
 * results (which finite inputs can still overflow into, e.g. a variance above float32's range) are
 * scanned before they are returned. Host-array calls never modify their inputs, so a rejected
 * result leaves nothing half-done.
 */
export type NamedArrays = Record<string, Float32Array | undefined>;

function firstNonFinite(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) {
    // x - x is 0 for every finite x and NaN for NaN and ±Inf: one comparison per value.
    if (values[i] - values[i] !== 0) return i;
  }
  return -1;
}

/**
 * Throws 'non-finite' naming the first NaN or ±Inf, its index and, for tensors of `view`'s size,
 * its channel. `role` says whether the arrays were given ('input') or computed ('result').
 */
export function assertFinite(call: string, role: 'input' | 'result', arrays: NamedArrays, view: ChannelView): void {
  for (const [name, values] of Object.entries(arrays)) {
    if (!values) continue;
    const i = firstNonFinite(values);
    if (i < 0) continue;
    const channel = values.length === view.size ? Math.floor(i / view.inner) % view.channels : i;
    const where = role === 'input' ? 'in the input' : 'in the result (the inputs were finite: float32 overflowed)';
    throw new BatchNormError('non-finite', `${call}: ${name}[${i}] is ${values[i]} ${where}, channel ${channel}; checkFinite is on`);
  }
}
