/**
 * Functions the GPU tests call inside the page, by name, through test/support/browser.ts. Each takes
 * one JSON argument and resolves to JSON; typed arrays, NaN, ±Infinity and -0 survive the trip
 * exactly, in both directions (see wire.ts).
 */
import { adapterInfo } from './adapter-info';
import { runCopyFloorCase } from './copy-floor-case';
import { runBackwardCase } from './backward-case';
import { runBackwardValidationCase, runBackwardVerifyCase } from './backward-checks-case';
import { runForwardCase } from './forward-case';
import { runNormBadInputsCase, runNormCase } from './norms-case';
import { runFloat16LayerCase } from './float16-case';
import { runOptimizerCase } from './optimizer-case';
import { runOptimizerValidation } from './optimizer-validation-case';
import { runVerifyCase } from './verify-case';
import { runTrainingCase } from './training-case';
import { runLayerResidual, runLayerRunningStats, runLayerState } from './layer-case';
import { runDeviceLostCase } from './device-lost-case';
import { runSyncStatsCase } from './sync-stats-case';
import { runRecoveryCase } from './recovery-case';
import { runNonFiniteCase } from './non-finite-case';
import { runNormNonFiniteCase } from './norms-non-finite-case';
import { runNormCacheCase } from './norms-cache-case';
import { runGpuErrorsCase } from './gpu-errors-case';
import { runBadInputsCase } from './bad-inputs-case';
import { runResourcesCase } from './resources-case';
import { runDifferentialBatch } from './differential-case';
import { runSubgroupsCase } from './subgroups-case';
import { runTooLargeCase } from './too-large-case';
import { runReluRulesCase } from './relu-rules-case';
import { runBufferSetsCase, runCachedErrorsCase } from './buffer-sets-case';
import { runOnnxDataCase, runOnnxNormCase } from './onnx-data-case';
import { runAutotuneCase, runLocalStorageCase, runTimerBatchesCase, runNoTimestampsCase, runScreenedAutotuneCase, runSmallerClassFirstCase, runDispatchChoiceCase, runTunedDispatchCountCase } from './autotune-case';

// The TensorFlow.js adapter's cases load TF.js on first use, so other test files' pages do not.
const tfjsCases = () => import('./tfjs-case');
const fusedCases = () => import('./tfjs-fused-case');
const layerNormCases = () => import('./tfjs-layer-norm-case');
type LayerNormCases = typeof import('./tfjs-layer-norm-case');

export const cases = {
  async ping(arg: unknown): Promise<{ pong: unknown }> {
    return { pong: arg };
  },
  adapterInfo,
  copyFloorCase: runCopyFloorCase,
  forwardCase: runForwardCase,
  normCase: runNormCase,
  normBadInputsCase: runNormBadInputsCase,
  float16LayerCase: runFloat16LayerCase,
  verifyCase: runVerifyCase,
  backwardCase: runBackwardCase,
  backwardVerifyCase: runBackwardVerifyCase,
  backwardValidationCase: runBackwardValidationCase,
  optimizerCase: runOptimizerCase,
  optimizerValidation: runOptimizerValidation,
  trainingCase: runTrainingCase,
  layerRunningStats: runLayerRunningStats,
  layerState: runLayerState,
  layerResidual: runLayerResidual,
  deviceLostCase: runDeviceLostCase,
  syncStatsCase: runSyncStatsCase,
  recoveryCase: runRecoveryCase,
  nonFiniteCase: runNonFiniteCase,
  normNonFiniteCase: runNormNonFiniteCase,
  normCacheCase: runNormCacheCase,
  gpuErrorsCase: runGpuErrorsCase,
  badInputsCase: runBadInputsCase,
  resourcesCase: runResourcesCase,
  differentialBatch: runDifferentialBatch,
  subgroupsCase: runSubgroupsCase,
  tooLargeCase: runTooLargeCase,
  reluRulesCase: runReluRulesCase,
  bufferSetsCase: runBufferSetsCase,
  cachedErrorsCase: runCachedErrorsCase,
  autotuneCase: runAutotuneCase,
  noTimestampsCase: runNoTimestampsCase,
  localStorageCase: runLocalStorageCase,
  timerBatchesCase: runTimerBatchesCase,
  tunedDispatchCountCase: runTunedDispatchCountCase,
  screenedAutotuneCase: runScreenedAutotuneCase,
  smallerClassFirstCase: runSmallerClassFirstCase,
  dispatchChoiceCase: runDispatchChoiceCase,
  onnxDataCase: runOnnxDataCase,
  onnxNormCase: runOnnxNormCase,
  tfjsModelParity: async (arg: Parameters<typeof import('./tfjs-case').runModelParity>[0]) => (await tfjsCases()).runModelParity(arg),
  tfjsOpParity: async (arg: Parameters<typeof import('./tfjs-case').runOpParity>[0]) => (await tfjsCases()).runOpParity(arg),
  tfjsSteadyState: async (arg: Parameters<typeof import('./tfjs-case').runSteadyState>[0]) => (await tfjsCases()).runSteadyState(arg),
  tfjsSerialization: async (arg: Parameters<typeof import('./tfjs-case').runSerialization>[0]) => (await tfjsCases()).runSerialization(arg),
  tfjsStepTiming: async (arg: Parameters<typeof import('./tfjs-case').runStepTiming>[0]) => (await tfjsCases()).runStepTiming(arg),
  tfjsFold: async (arg: Parameters<typeof import('./tfjs-case').runFold>[0]) => (await tfjsCases()).runFold(arg),
  tfjsFusedPort: async () => (await fusedCases()).runFusedPort(),
  tfjsFusedReference: async (arg: Parameters<typeof import('./tfjs-fused-case').runFusedReference>[0]) => (await fusedCases()).runFusedReference(arg),
  tfjsFusedTraining: async (arg: Parameters<typeof import('./tfjs-fused-case').runFusedTraining>[0]) => (await fusedCases()).runFusedTraining(arg),
  tfjsFusedDelegation: async () => (await fusedCases()).runFusedDelegation(),
  tfjsFusedFeatureCheck: async () => (await fusedCases()).runFusedFeatureCheck(),
  tfjsMnist: async (arg: Parameters<typeof import('./tfjs-case').runMnist>[0]) => (await tfjsCases()).runMnist(arg),
  tfjsLayerNormOp: async (arg: Parameters<LayerNormCases['runLayerNormOp']>[0]) => (await layerNormCases()).runLayerNormOp(arg),
  tfjsLayerNormStockPath: async (arg: Parameters<LayerNormCases['runLayerNormStockPath']>[0]) => (await layerNormCases()).runLayerNormStockPath(arg),
  tfjsLayerNormStatisticsGradient: async (arg: Parameters<LayerNormCases['runLayerNormStatisticsGradient']>[0]) => (await layerNormCases()).runLayerNormStatisticsGradient(arg),
  tfjsLayerNormLayer: async (arg: Parameters<LayerNormCases['runLayerNormLayer']>[0]) => (await layerNormCases()).runLayerNormLayer(arg),
  tfjsLayerNormFit: async (arg: Parameters<LayerNormCases['runLayerNormFit']>[0]) => (await layerNormCases()).runLayerNormFit(arg),
  tfjsLayerNormSteadyState: async (arg: Parameters<LayerNormCases['runLayerNormSteadyState']>[0]) => (await layerNormCases()).runLayerNormSteadyState(arg),
  tfjsLayerNormSerialization: async (arg: Parameters<LayerNormCases['runLayerNormSerialization']>[0]) => (await layerNormCases()).runLayerNormSerialization(arg),
  tfjsLayerNormBadInputs: async (arg: Parameters<LayerNormCases['runLayerNormBadInputs']>[0]) => (await layerNormCases()).runLayerNormBadInputs(arg),
};
