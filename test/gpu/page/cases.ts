/**
 * Functions the GPU tests call inside the page, by name, through test/support/browser.ts. Each takes
 * one JSON argument and resolves to JSON; typed arrays, NaN, ±Infinity and -0 survive the trip
 * exactly, in both directions (see wire.ts).
 */
import { adapterInfo } from './adapter-info';
import { runBackwardCase } from './backward-case';
import { runBackwardValidationCase, runBackwardVerifyCase } from './backward-checks-case';
import { runForwardCase } from './forward-case';
import { runOptimizerCase } from './optimizer-case';
import { runOptimizerValidation } from './optimizer-validation-case';
import { runVerifyCase } from './verify-case';
import { runTrainingCase } from './training-case';
import { runLayerRunningStats, runLayerState } from './layer-case';
import { runDeviceLostCase } from './device-lost-case';
import { runSyncStatsCase } from './sync-stats-case';

export const cases = {
  async ping(arg: unknown): Promise<{ pong: unknown }> {
    return { pong: arg };
  },
  adapterInfo,
  forwardCase: runForwardCase,
  verifyCase: runVerifyCase,
  backwardCase: runBackwardCase,
  backwardVerifyCase: runBackwardVerifyCase,
  backwardValidationCase: runBackwardValidationCase,
  optimizerCase: runOptimizerCase,
  optimizerValidation: runOptimizerValidation,
  trainingCase: runTrainingCase,
  layerRunningStats: runLayerRunningStats,
  layerState: runLayerState,
  deviceLostCase: runDeviceLostCase,
  syncStatsCase: runSyncStatsCase,
};
