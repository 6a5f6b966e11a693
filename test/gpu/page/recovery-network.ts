/**
 * The toy network of the device-loss tests: two BatchNorm layers (NCHW with relu, PyTorch; NHWC,
 * Keras), each fitting its output to a fixed target with an MSE loss, one Adam optimizer over both
 * layers' γ and β. Step s trains on batch s, generated from the seed, so any step can be replayed;
 * the same step runs on the GPU (one encoder: zeroGrad, forward, loss gradient, backward, optimizer
 * step) or on the CPU twins, with the same float32 loss gradient dy = (2/M)·(y − t).
 */
import type { BatchNormLayerOptions, CpuBatchNormLayer, CpuOptimizer, GpuOptimizer, BatchNormLayer } from '../../../src/index';
import { packParams } from '../../../src/gpu/uniforms';
import { caseSeed, createRng, normals } from '../../support/random';
import { storageBuffer } from './gpu-buffers';
import mseGradSource from './mse-grad.wgsl?raw';

export const layerSpecs: { options: BatchNormLayerOptions; shape: number[] }[] = [
  { options: { numFeatures: 6, layout: 'NCHW', activation: 'relu', label: 'test.bnA' }, shape: [4, 6, 5, 5] },
  { options: { numFeatures: 5, layout: 'NHWC', convention: 'keras', momentum: 0.9, label: 'test.bnB' }, shape: [3, 4, 4, 5] },
];

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

export interface Batch {
  x: Float32Array;
  target: Float32Array;
}

/** Batch `step` of layer `k`: channel means and spreads drift from step to step, targets are fixed. */
export function batchOf(seed: number, k: number, step: number): Batch {
  const rng = createRng(caseSeed(seed, `recovery layer ${k} step ${step}`));
  const n = size(layerSpecs[k].shape);
  const x = normals(rng, n, rng.normal(), 1 + rng.uniform());
  const goal = createRng(caseSeed(seed, `recovery target ${k}`));
  const target = Float32Array.from(normals(goal, n, 0.5, 1), (t) => Math.max(t, 0));
  return { x, target };
}

/** The per-device half of the network: its buffers and the loss-gradient pipeline. */
export class GpuNetwork {
  private readonly buffers: { x: GPUBuffer; target: GPUBuffer; y: GPUBuffer; dy: GPUBuffer; dx: GPUBuffer; bind: GPUBindGroup; count: number }[];
  private readonly pipeline: GPUComputePipeline;
  private readonly uniforms: GPUBuffer[] = [];

  constructor(readonly device: GPUDevice) {
    const module = device.createShaderModule({ label: 'test.recovery.mseGrad', code: mseGradSource });
    this.pipeline = device.createComputePipeline({ label: 'test.recovery.mseGrad', layout: 'auto', compute: { module, entryPoint: 'mseGrad' } });
    this.buffers = layerSpecs.map((spec, k) => {
      const n = size(spec.shape);
      const M = n / spec.options.numFeatures;
      const zeros = new Float32Array(n);
      const [x, target, y, dy, dx] = ['x', 'target', 'y', 'dy', 'dx'].map((name) => storageBuffer(device, `recovery.${name}${k}`, zeros));
      const uniform = device.createBuffer({ label: `test.recovery.mseGrad${k}.params`, size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
      device.queue.writeBuffer(uniform, 0, packParams({ name: 'mse-grad', code: mseGradSource }, { count: n, scale: 2 / M }));
      this.uniforms.push(uniform);
      const bind = device.createBindGroup({
        label: `test.recovery.mseGrad${k}`,
        layout: this.pipeline.getBindGroupLayout(0),
        entries: [uniform, y, target, dy].map((buffer, binding) => ({ binding, resource: { buffer } })),
      });
      return { x, target, y, dy, dx, bind, count: n };
    });
  }

  /** One training step of every layer and the optimizer, in one encoder and one submit. */
  step(layers: BatchNormLayer[], optimizer: GpuOptimizer, batches: Batch[]): void {
    const encoder = this.device.createCommandEncoder({ label: 'test.recovery.step' });
    layers.forEach((layer, k) => {
      const b = this.buffers[k];
      this.device.queue.writeBuffer(b.x, 0, batches[k].x as Float32Array<ArrayBuffer>);
      this.device.queue.writeBuffer(b.target, 0, batches[k].target as Float32Array<ArrayBuffer>);
      layer.zeroGrad(encoder);
      layer.forward(encoder, b.x, b.y, layerSpecs[k].shape);
      const pass = encoder.beginComputePass({ label: 'test.recovery.mseGrad' });
      pass.setPipeline(this.pipeline);
      pass.setBindGroup(0, b.bind);
      pass.dispatchWorkgroups(Math.ceil(b.count / 64));
      pass.end();
      layer.backward(encoder, b.dy, b.dx);
    });
    optimizer.encodeStep(encoder);
    this.device.queue.submit([encoder.finish()]);
  }

  destroy(): void {
    for (const b of this.buffers) for (const buffer of [b.x, b.target, b.y, b.dy, b.dx]) buffer.destroy();
    for (const uniform of this.uniforms) uniform.destroy();
  }
}

/** The same step on the CPU twins, with dy rounded to float32 as the GPU's loss kernel stores it. */
export function cpuStep(layers: CpuBatchNormLayer[], optimizer: CpuOptimizer, batches: Batch[]): void {
  layers.forEach((layer, k) => {
    const spec = layerSpecs[k];
    const M = size(spec.shape) / spec.options.numFeatures;
    layer.zeroGrad();
    const y = layer.forward(batches[k].x, spec.shape);
    const scale = Math.fround(2 / M);
    const dy = Float32Array.from(y, (v, i) => scale * (v - batches[k].target[i]));
    layer.backward(dy);
  });
  optimizer.step();
}
