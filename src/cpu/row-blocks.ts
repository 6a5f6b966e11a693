/*
 * Rows of C interleaved channels (inner == 1: NC, NLC, NHWC) are walked a few channels at a time
 * within blocks of rows small enough to stay in the L1 cache: each channel's pivot, sums, scale and
 * shift then live in local variables instead of typed-array slots loaded and stored per value.
 * Faster than memory order for every op (docs/benchmark.md, "Measurements behind the launch
 * shapes").
 */

/** Values per block of rows (16 KB of float32). */
const BLOCK_VALUES = 4096;

/** Channels walked together: four neighbours share each cache line the walk touches. */
export const CHANNEL_GROUP = 4;

/**
 * Rows per block for `channels` interleaved channels, or 0 when a block would hold too few rows
 * for blocking to pay (very many channels: memory order is then faster).
 */
export function rowsPerBlock(channels: number): number {
  return channels <= BLOCK_VALUES / 4 ? Math.floor(BLOCK_VALUES / channels) : 0;
}
