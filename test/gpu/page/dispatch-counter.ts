/**
 * Counts the compute dispatches the page records while `run` runs, whatever encoder or pass they go
 * to (GPUComputePassEncoder's prototype is wrapped for that time): what a dispatchCount() promises
 * is checked against what its call really encodes. Cases run one at a time, so nothing else counts.
 */
export async function countDispatches<T>(run: () => T | Promise<T>): Promise<{ result: T; dispatches: number }> {
  const original = GPUComputePassEncoder.prototype.dispatchWorkgroups;
  let dispatches = 0;
  GPUComputePassEncoder.prototype.dispatchWorkgroups = function (this: GPUComputePassEncoder, ...args: Parameters<typeof original>) {
    dispatches++;
    return original.apply(this, args);
  };
  try {
    return { result: await run(), dispatches };
  } finally {
    GPUComputePassEncoder.prototype.dispatchWorkgroups = original;
  }
}
