/* The odd shapes every GPU matrix runs (browser forward/backward suites, the portable suite). Browser-safe. */
import type { Layout } from '../../src/types';

/**
 * Odd shapes per layout: C = 1, M = 2, primes, sizes that are not multiples of 4 or of the
 * workgroup size, and shapes that take the vec4 paths (C % 4 == 0 with inner == 1, inner % 4 == 0).
 */
export const oddShapes: Record<Layout, number[][]> = {
  NC: [[2, 1], [37, 5], [1000, 12], [3, 7]],
  NCL: [[3, 7, 5], [2, 1, 1], [4, 8, 12], [5, 3, 131]],
  NLC: [[2, 13, 3], [5, 7, 8], [1, 2, 1], [3, 41, 5]],
  NCHW: [[2, 3, 5, 7], [4, 16, 8, 8], [1, 1, 2, 1], [3, 5, 31, 17]],
  NHWC: [[2, 5, 7, 3], [4, 8, 8, 16], [2, 1, 1, 1], [1, 13, 11, 6]],
  NCDHW: [[2, 3, 3, 5, 7], [1, 4, 2, 4, 4], [2, 1, 1, 1, 1], [1, 2, 3, 5, 11]],
  NDHWC: [[2, 3, 5, 7, 3], [1, 2, 3, 4, 8], [1, 1, 2, 1, 1], [3, 2, 2, 3, 5]],
};

/**
 * One small odd shape per layout for the CPU matrices: no size is a multiple of 4 and every axis
 * differs, so a wrong channel axis or a wrong inner stride changes the statistics.
 */
export const cpuMatrixShapes: Record<Layout, number[]> = {
  NC: [37, 5],
  NCL: [3, 7, 11],
  NLC: [3, 11, 7],
  NCHW: [2, 5, 7, 3],
  NHWC: [2, 7, 3, 5],
  NCDHW: [2, 3, 3, 5, 2],
  NDHWC: [2, 3, 5, 2, 3],
};
