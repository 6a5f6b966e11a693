/**
 * Spreads `workgroups` over a 2-D grid when it exceeds maxComputeWorkgroupsPerDimension. Kernels
 * rebuild the linear index as x + y · numWorkgroups.x and skip indices past the real count.
 */
export function foldWorkgroups(workgroups: number, maxPerDimension: number): [number, number] {
  if (workgroups <= maxPerDimension) return [Math.max(1, workgroups), 1];
  const y = Math.ceil(workgroups / maxPerDimension);
  if (y > maxPerDimension) {
    throw new RangeError(`${workgroups} workgroups exceed a ${maxPerDimension}² grid`);
  }
  return [Math.ceil(workgroups / y), y];
}
