import type { ChannelView } from '../layout';
import { ConstantBuffers } from './constant-buffers';
import { ProgramCache } from './program-cache';
import { ScratchBuffers } from './scratch';
import { bindingBytesOf } from './slabs';
import { sizeClassKey, sizeClassOf, type KernelFamily } from './tuning-classes';
import { resolveTuning, usesSubgroups, type KernelTuning } from './tuning';
import { UniformCache } from './uniform-cache';

/** Everything an encode function needs from its engine: the device and the engine-owned buffers. */
export interface GpuContext {
  device: GPUDevice;
  tuning: KernelTuning;
  /** Launches use the subgroups variants of kernels that have one (shader-sources.ts). */
  subgroups: boolean;
  maxWorkgroupsPerDimension: number;
  /** Largest tensor binding, a multiple of `alignment`; larger tensors go in slabs (slabs.ts). */
  bindingBytes: number;
  /** minStorageBufferOffsetAlignment */
  alignment: number;
  uniforms: UniformCache;
  scratch: ScratchBuffers;
  /** The first level of a two-level finalize writes here: a buffer apart, since one dispatch may not read and write one buffer. */
  foldedScratch: ScratchBuffers;
  constants: ConstantBuffers;
  /** Compiled passes and their bind groups of GPU-resident calls, reused while valid (program-cache.ts). */
  programs: ProgramCache;
  /** Autotuned overrides per size class (absent in the contexts they derive). */
  tuned?: TunedContexts;
}

export function createGpuContext(device: GPUDevice, tuning: KernelTuning): GpuContext {
  return {
    device,
    tuning,
    subgroups: usesSubgroups(device.features, tuning),
    maxWorkgroupsPerDimension: device.limits.maxComputeWorkgroupsPerDimension,
    bindingBytes: bindingBytesOf(device.limits, tuning.maxBindingBytes),
    alignment: device.limits.minStorageBufferOffsetAlignment,
    uniforms: new UniformCache(device),
    scratch: new ScratchBuffers(device, 'partials'),
    foldedScratch: new ScratchBuffers(device, 'foldedPartials'),
    constants: new ConstantBuffers(device),
    programs: new ProgramCache(),
    tuned: new TunedContexts(),
  };
}

/**
 * The same engine with `override` laid over its tuning: it shares every buffer and cache but its
 * compiled programs; only the launch plans change.
 */
export function withTuning(context: GpuContext, override: Partial<KernelTuning>): GpuContext {
  const tuning = resolveTuning(override, context.device.limits.maxComputeInvocationsPerWorkgroup, context.tuning);
  // Its own program cache: the cache's keys do not name the tuning, and other launch shapes are other programs.
  return { ...context, tuning, subgroups: usesSubgroups(context.device.features, tuning), bindingBytes: bindingBytesOf(context.device.limits, tuning.maxBindingBytes), tuned: undefined, programs: new ProgramCache() };
}

/** The overrides autotuning chose, and the contexts they make, per size class. */
export class TunedContexts {
  private readonly overrides = new Map<string, Partial<KernelTuning>>();
  private readonly contexts = new Map<string, GpuContext>();

  get size(): number {
    return this.overrides.size;
  }

  get(classKey: string): Partial<KernelTuning> | undefined {
    return this.overrides.get(classKey);
  }

  set(classKey: string, override: Partial<KernelTuning>): void {
    this.overrides.set(classKey, override);
    this.contexts.delete(classKey);
  }

  entries(): [string, Partial<KernelTuning>][] {
    return [...this.overrides];
  }

  contextFor(base: GpuContext, classKey: string): GpuContext {
    const override = this.overrides.get(classKey);
    if (!override || Object.keys(override).length === 0) return base;
    let context = this.contexts.get(classKey);
    if (!context) {
      context = withTuning(base, override);
      this.contexts.set(classKey, context);
    }
    return context;
  }
}

/** The context a call of `family` on `view` plans with: its size class's tuned one, if any. */
export function contextFor(context: GpuContext, family: KernelFamily, view: ChannelView): GpuContext {
  const tuned = context.tuned;
  if (!tuned || tuned.size === 0) return context;
  return tuned.contextFor(context, sizeClassKey(sizeClassOf(family, view)));
}

export function destroyGpuContext(context: GpuContext): void {
  context.uniforms.destroy();
  context.scratch.destroy();
  context.foldedScratch.destroy();
  context.constants.destroy();
  context.programs.clear();
}
