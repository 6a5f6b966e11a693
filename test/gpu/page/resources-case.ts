/**
 * GPU memory over a long run: every GPUBuffer created on a device and not yet destroyed is counted
 * by wrapping GPUDevice.prototype.createBuffer and GPUBuffer.prototype.destroy in this page (the
 * real live buffers, not the engine's own bookkeeping). 10 000 host-array calls from 8 concurrent
 * callers on one engine must keep that count bounded and give correct results (verify mode checks
 * every GPU result against the CPU path; a mix-up between concurrent calls would fail it), and
 * dispose() must bring the count back to where it started — on a borrowed device, which the engine
 * must clean up buffer by buffer, and on its own device before destroying it.
 */
import { BatchNormLayer, createBatchNorm, createGpuOptimizer, createTrainingMirror, type BatchNorm } from '../../../src/index';
import { caseSeed, createRng, normals } from '../../support/random';

export interface ResourcesReport {
  calls: number;
  callers: number;
  /** Live buffers of the engine's device: before, largest over each quarter of the run, after dispose(). */
  live: { baseline: number; maxByQuarter: number[]; afterCalls: number; engineCount: number; afterDispose: number };
  owned: { afterCalls: number; afterDispose: number };
  training: { withTraining: number; afterDestroy: number };
  failures: string[];
}

/** Live buffers per device, counted on the prototypes. */
function trackBuffers() {
  const live = new Map<GPUDevice, Set<GPUBuffer>>();
  const owner = new WeakMap<GPUBuffer, GPUDevice>();
  const createBuffer = GPUDevice.prototype.createBuffer;
  const destroy = GPUBuffer.prototype.destroy;
  GPUDevice.prototype.createBuffer = function (this: GPUDevice, descriptor: GPUBufferDescriptor) {
    const buffer = createBuffer.call(this, descriptor);
    if (!live.has(this)) live.set(this, new Set());
    live.get(this)!.add(buffer);
    owner.set(buffer, this);
    return buffer;
  };
  GPUBuffer.prototype.destroy = function (this: GPUBuffer) {
    const device = owner.get(this);
    if (device) live.get(device)!.delete(this);
    return destroy.call(this);
  };
  return {
    count: (device: GPUDevice) => live.get(device)?.size ?? 0,
    restore() {
      GPUDevice.prototype.createBuffer = createBuffer;
      GPUBuffer.prototype.destroy = destroy;
    },
  };
}

const shapes: { shape: number[]; layout: 'NC' | 'NCHW' | 'NHWC' }[] = [
  { shape: [16, 8], layout: 'NC' },
  { shape: [2, 3, 5, 7], layout: 'NCHW' },
  { shape: [2, 4, 4, 12], layout: 'NHWC' },
  { shape: [33, 5], layout: 'NC' },
];

/** One caller: `calls` host-array calls cycling through every entry point and shape. */
async function caller(bn: BatchNorm, seed: number, id: number, calls: number, onCall: () => void, failures: string[]): Promise<void> {
  const rng = createRng(caseSeed(seed, `resources caller ${id}`));
  for (let k = 0; k < calls; k++) {
    const { shape, layout } = shapes[(k + id) % shapes.length];
    const C = layout === 'NHWC' ? shape[3] : shape[1];
    const n = shape.reduce((a, b) => a * b, 1);
    const x = normals(rng, n, rng.normal(), 1 + rng.uniform());
    const opts = { shape, layout, gamma: normals(rng, C, 1, 0.2), beta: normals(rng, C, 0, 0.2), activation: k % 3 === 0 ? ('relu' as const) : ('none' as const) };
    const running = { runningMean: normals(rng, C), runningVar: Float32Array.from(normals(rng, C), (v) => 0.5 + v * v) };
    try {
      switch (k % 4) {
        case 0:
          await bn.forwardTrain(x, { ...opts, ...running });
          break;
        case 1:
          await bn.forwardInference(x, { ...opts, ...running });
          break;
        case 2: {
          const saved = await bn.forwardTrain(x, opts);
          await bn.backward(normals(rng, n), x, opts, saved);
          break;
        }
        case 3:
          await bn.channelStatistics(x, { shape, layout });
          break;
      }
    } catch (error) {
      if (failures.length < 5) failures.push(`caller ${id} call ${k}: ${String(error)}`);
    }
    onCall();
  }
}

export async function runResourcesCase(arg: { seed: number; calls: number; callers: number }): Promise<ResourcesReport> {
  const tracker = trackBuffers();
  const failures: string[] = [];
  try {
    const adapter = await navigator.gpu.requestAdapter();
    const device = await adapter!.requestDevice({ label: 'test.resources.borrowed' });
    const baseline = tracker.count(device);
    // verify: every GPU result is checked against the CPU path inside the engine.
    const bn = await createBatchNorm({ device, verify: true });
    const maxByQuarter = [0, 0, 0, 0];
    let done = 0;
    const onCall = () => {
      const quarter = Math.min(3, Math.floor((4 * done) / arg.calls));
      maxByQuarter[quarter] = Math.max(maxByQuarter[quarter], tracker.count(device));
      done++;
    };
    const perCaller = Math.ceil(arg.calls / arg.callers);
    await Promise.all(Array.from({ length: arg.callers }, (_, id) => caller(bn, arg.seed, id, perCaller, onCall, failures)));
    const afterCalls = tracker.count(device);
    const engineCount = bn.gpu!.liveBuffers;

    // A training setup on the same engine: layer, optimizer and mirror free what they made.
    const layer = new BatchNormLayer(bn.gpu!, { numFeatures: 8 });
    const optimizer = createGpuOptimizer(device, { kind: 'adam' });
    optimizer.addParam(layer.weight!, layer.weightGrad!, 8);
    optimizer.addParam(layer.bias!, layer.biasGrad!, 8);
    const mirror = await createTrainingMirror(bn, { layers: [layer], optimizers: [optimizer] });
    mirror.capture();
    await mirror.flush();
    const withTraining = tracker.count(device);
    mirror.dispose();
    optimizer.destroy();
    layer.destroy();
    const afterTraining = tracker.count(device);

    bn.dispose();
    const afterDispose = tracker.count(device);
    device.destroy();

    // An engine with its own device frees its buffers one by one before destroying the device.
    const owned = await createBatchNorm({ backend: 'webgpu', verify: true });
    const ownedDevice = owned.gpu!.device;
    await caller(owned, arg.seed, 99, 200, () => {}, failures);
    const ownedAfterCalls = tracker.count(ownedDevice);
    owned.dispose();
    const ownedAfterDispose = tracker.count(ownedDevice);
    return {
      calls: done,
      callers: arg.callers,
      live: { baseline, maxByQuarter, afterCalls, engineCount, afterDispose },
      owned: { afterCalls: ownedAfterCalls, afterDispose: ownedAfterDispose },
      training: { withTraining: withTraining - afterCalls, afterDestroy: afterTraining - afterCalls },
      failures,
    };
  } finally {
    tracker.restore();
  }
}
