/**
 * The norm family's GPU-resident calls keep their compiled passes and bind groups per buffer set,
 * as batch norm's do (program-cache.ts): a training loop repeating a call on the same buffers makes
 * no bind group and pushes no error scope after its first step; a new buffer in the set makes its
 * bind groups again; and every step's outputs equal the first step's, bit for bit.
 */
import { createBatchNorm, type BatchNorm } from '../../../src/index';
import type { NormResidentOptions } from '../../../src/gpu/norms/encode-norms';
import type { NormKind } from '../../../src/norms/norm-types';
import { counted, type DeviceCalls } from './buffer-sets-case';
import { createRng, normals } from '../../support/random';
import { readBuffer, storageBuffer } from './gpu-buffers';

export interface NormCacheStep {
  label: string;
  forward: DeviceCalls;
  backward: DeviceCalls;
  /** The step's y and dx equal the first step's, bit for bit. */
  sameAsFirst: boolean;
}

let engine: Promise<BatchNorm> | undefined;

export async function runNormCacheCase(arg: { seed: number; kind: NormKind; shape: readonly number[]; groups?: number }): Promise<NormCacheStep[]> {
  engine ??= createBatchNorm({ backend: 'webgpu' });
  const bn = await engine;
  const gpu = bn.gpu!;
  const device = gpu.device;
  const size = arg.shape.reduce((a, b) => a * b, 1);
  const params = arg.kind === 'layer' || arg.kind === 'rms' ? arg.shape[arg.shape.length - 1] : arg.shape[1];
  const rows = arg.kind === 'layer' || arg.kind === 'rms' ? size / params : arg.shape[0] * (arg.kind === 'group' ? arg.groups! : params);
  const rng = createRng(arg.seed);
  const x = normals(rng, size, 2, 3);
  const dy = normals(rng, size);
  const options = { kind: arg.kind, shape: arg.shape, activation: 'gelu', ...(arg.groups ? { groups: arg.groups } : {}) } as NormResidentOptions;
  const make = (label: string, data: Float32Array) => storageBuffer(device, `normCache.${label}`, data);
  const set = () => ({
    x: make('x', x),
    dy: make('dy', dy),
    y: make('y', new Float32Array(size)),
    dx: make('dx', new Float32Array(size)),
    stats: make('stats', new Float32Array(5 * rows)),
    gamma: make('gamma', normals(createRng(arg.seed + 1), params, 1, 0.5)),
    dgamma: make('dgamma', new Float32Array(params)),
  });
  const first = set();
  const second = { ...first, dx: make('dx2', new Float32Array(size)) };
  const steps: [string, ReturnType<typeof set>][] = [
    ['first set', first],
    ['first set again', first],
    ['first set a third time', first],
    ['a new dx', second],
    ['the new dx again', second],
    ['the first set again', first],
  ];
  const out: NormCacheStep[] = [];
  let reference: [Float32Array, Float32Array] | undefined;
  for (const [label, b] of steps) {
    // Poisoned outputs: a step that wrote nothing would show.
    device.queue.writeBuffer(b.y, 0, new Float32Array(size).fill(NaN));
    device.queue.writeBuffer(b.dx, 0, new Float32Array(size).fill(NaN));
    const encoder = device.createCommandEncoder({ label: 'test.normCache' });
    const forward = counted(device, () => gpu.norms.encodeForward(encoder, { ...options, x: b.x, y: b.y, stats: b.stats, gamma: b.gamma }));
    const backward = counted(device, () => gpu.norms.encodeBackward(encoder, { ...options, dy: b.dy, x: b.x, stats: b.stats, gamma: b.gamma, dx: b.dx, dgamma: b.dgamma }));
    device.queue.submit([encoder.finish()]);
    const results: [Float32Array, Float32Array] = [await readBuffer(device, b.y, size), await readBuffer(device, b.dx, size)];
    reference ??= results;
    const same = (a: Float32Array, c: Float32Array) => a.every((v, i) => Object.is(v, c[i]));
    out.push({ label, forward, backward, sameAsFirst: same(results[0], reference[0]) && same(results[1], reference[1]) && results[1].every(Number.isFinite) });
  }
  await gpu.checkErrors();
  return out;
}
