import type { GpuContext } from './context';
import { compilePass, createBindGroups, recordPass, type CompiledPass, type Launch } from './dispatch';
import { NumericKeyMap } from './numeric-keys';

/**
 * What a GPU-resident call keeps between calls, so that a training loop repeating a shape on the
 * same buffers records its passes with encoder commands only: no planning, no uniform packing, no
 * bind group, no error scope.
 *
 * - A program: the compiled pass (dispatch.ts) of a call description, keyed by numbers (the sizes,
 *   the scalar options, and which buffers are given and which are one buffer).
 * - Its bind groups, per set of buffers: a chain of WeakMaps keyed by the GPUBuffer objects, so an
 *   entry goes away with its buffers, and a buffer destroyed and replaced by a new one (a new
 *   object) never meets a bind group of the old one.
 *
 * Both are kept only once the error scopes of the call that made them reported no error
 * (PreparedCall.keep): a cached object is always a valid one, so a call served from the cache
 * makes no device call that could fail, needs no scope, and checkErrors() reports exactly what it
 * would have reported had every call made its objects anew. Uniform buffers are immutable (written
 * at creation, uniform-cache.ts), so a pass recorded now and submitted later is never changed by a
 * later call, and the uniform cache never destroys one a program may hold.
 */

/** A call split as ONNX Runtime Web's ops are (validateInputs → program), see encode-forward.ts. */
export interface PreparedCall<T> {
  /** Present when every GPU object the call needs is cached: records it with encoder commands only. */
  cached?: () => T;
  /** Makes the GPU objects the call needs (device calls, for the caller's error scopes) and records it. */
  create: () => T;
  /** Called once `create`'s error scopes reported no error: keeps what it made for later calls. */
  keep?: () => void;
}

/** Runs a prepared call without error scopes of its own (inside a host-array call's scopes). */
export function runPrepared<T>(call: PreparedCall<T>): T {
  return (call.cached ?? call.create)();
}

interface BindingNode {
  next?: WeakMap<GPUBuffer, BindingNode>;
  groups?: GPUBindGroup[];
}

/**
 * Bind groups of one program per buffer set, in a WeakMap chain (see above). A caller that keeps
 * many buffers alive and combines them in ever new ways (a pool handing out its buffers in any
 * order) would grow it without end, so past `capacity` sets it starts over.
 */
class BindGroupTree {
  private root = new WeakMap<GPUBuffer, BindingNode>();
  private sets = 0;

  constructor(private readonly capacity = 256) {}

  get(buffers: readonly GPUBuffer[]): GPUBindGroup[] | undefined {
    let map: WeakMap<GPUBuffer, BindingNode> | undefined = this.root;
    let node: BindingNode | undefined;
    for (let i = 0; i < buffers.length; i++) {
      node = map?.get(buffers[i]);
      if (!node) return undefined;
      map = node.next;
    }
    return node?.groups;
  }

  set(buffers: readonly GPUBuffer[], groups: GPUBindGroup[]): void {
    if (++this.sets > this.capacity) {
      this.root = new WeakMap();
      this.sets = 1;
    }
    let map = this.root;
    let node: BindingNode | undefined;
    for (const buffer of buffers) {
      node = map.get(buffer);
      if (!node) {
        node = {};
        map.set(buffer, node);
      }
      map = node.next ??= new WeakMap();
    }
    node!.groups = groups;
  }
}

interface Program {
  pass: CompiledPass;
  bindings: BindGroupTree;
}

/** Programs of one engine context. Dropping one destroys nothing, so the oldest simply goes past `capacity`. */
export class ProgramCache {
  private readonly programs: NumericKeyMap<Program>;

  constructor(capacity = 512) {
    this.programs = new NumericKeyMap(capacity);
  }

  get(key: readonly number[]): Program | undefined {
    return this.programs.get(key);
  }

  set(key: readonly number[], program: Program): void {
    this.programs.set(key, program);
  }

  get size(): number {
    return this.programs.size;
  }

  clear(): void {
    this.programs.clear();
  }
}

/** The first number of a program key: which call the program records. */
export const passKinds = { forwardTrain: 1, statistics: 2, forwardInference: 3, backward: 4, normForward: 5, normBackward: 6 } as const;

/** A GPU-resident call described for the cache. */
export interface CachedPass {
  /** The compute pass's label. */
  label: string;
  /** Numbers that, with the pattern of the slots, determine the launches: pass kind, sizes, options. */
  key: number[];
  /** The call's buffers in a fixed order, undefined where one is not given. */
  slots: readonly (GPUBuffer | undefined)[];
  /**
   * Plans the launches (pure; may throw a BatchNormError, before any device call) and returns the
   * function that builds them (device calls: the engine's scratch and constant buffers).
   */
  plan: () => () => { launches: Launch[]; cleared?: GPUBufferBinding[] };
}

/** For each slot: -1 when not given, else the index among the given slots of the first equal one. */
function slotPattern(slots: readonly (GPUBuffer | undefined)[], given: GPUBuffer[]): number[] {
  const pattern: number[] = [];
  for (const buffer of slots) {
    if (buffer === undefined) {
      pattern.push(-1);
      continue;
    }
    let index = given.indexOf(buffer);
    if (index < 0) index = given.push(buffer) - 1;
    pattern.push(index);
  }
  return pattern;
}

/**
 * Looks the call up (no device call) and returns how to record it: from the cache when its program
 * and its buffers' bind groups are there, else by making what is missing. `value` is the call's
 * result.
 */
export function prepareCached<T>(context: GpuContext, encoder: GPUCommandEncoder, pass: CachedPass, value: T): PreparedCall<T> {
  const given: GPUBuffer[] = [];
  const key = [...pass.key, ...slotPattern(pass.slots, given)];
  const program = context.programs.get(key);
  const groups = program?.bindings.get(given);
  if (program && groups) {
    const compiled = program.pass;
    const record = () => {
      recordPass(encoder, compiled, groups);
      return value;
    };
    return { cached: record, create: record };
  }
  const build = program ? undefined : pass.plan();
  let made: { program: Program; groups: GPUBindGroup[] } | undefined;
  return {
    create: () => {
      let compiled = program;
      if (!compiled) {
        const { launches, cleared = [] } = build!();
        compiled = { pass: compilePass(context, pass.label, launches, cleared, given), bindings: new BindGroupTree() };
      }
      const groups = createBindGroups(context.device, compiled.pass, given);
      recordPass(encoder, compiled.pass, groups);
      made = { program: compiled, groups };
      return value;
    },
    keep: () => {
      if (!made) return;
      // Two calls may have made a program for one key before either was kept: the first one stays.
      const kept = context.programs.get(key);
      if (!kept) context.programs.set(key, made.program);
      const owner = kept ?? made.program;
      if (owner.pass === made.program.pass) owner.bindings.set(given, made.groups);
    },
  };
}
