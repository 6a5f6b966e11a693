import { getPipeline } from '../gpu/pipelines';
import { shaders } from '../gpu/shader-sources';

/** Counters per buffer: 64 u32 (256 bytes), advanced by one workgroup of as many threads. */
export const COUNTERS_PER_BUFFER = 64;

export interface CounterSlot {
  buffer: GPUBuffer;
  slot: number;
}

interface CounterBuffer {
  buffer: GPUBuffer;
  used: number;
  /** Binds exactly the `used` counters; remade when a parameter is added. */
  bindGroup?: GPUBindGroup;
}

/**
 * The step count t of every parameter, on the GPU: one u32 per parameter (PyTorch keeps
 * state['step'] per parameter too, so one added later starts from 0). The update kernels read it
 * and `encode` advances all of them after the updates of a step, so the host never writes t and no
 * uniform changes from step to step. New buffers start at zero.
 */
export class StepCounters {
  private readonly buffers: CounterBuffer[] = [];

  constructor(
    private readonly device: GPUDevice,
    private readonly label: string,
  ) {}

  private get pipeline(): GPUComputePipeline {
    return getPipeline(this.device, shaders.optimStep, 'advanceSteps', { WORKGROUP_SIZE: COUNTERS_PER_BUFFER });
  }

  allocate(): CounterSlot {
    let last = this.buffers.at(-1);
    if (!last || last.used === COUNTERS_PER_BUFFER) {
      const buffer = this.device.createBuffer({
        label: `${this.label}.steps[${this.buffers.length}]`,
        size: COUNTERS_PER_BUFFER * 4,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      });
      last = { buffer, used: 0 };
      this.buffers.push(last);
    }
    last.used += 1;
    // Made here rather than in encode, so that recording a step never creates a GPU object.
    last.bindGroup = this.bind(last.buffer, last.used);
    return { buffer: last.buffer, slot: last.used - 1 };
  }

  private bind(buffer: GPUBuffer, used: number): GPUBindGroup {
    return this.device.createBindGroup({
      label: `${buffer.label}.bindings`,
      layout: this.pipeline.getBindGroupLayout(0),
      entries: [{ binding: 0, resource: { buffer, offset: 0, size: used * 4 } }],
    });
  }

  /** Records the increments into a pass that has already recorded the updates. */
  encode(pass: GPUComputePassEncoder): void {
    pass.setPipeline(this.pipeline);
    for (const counters of this.buffers) {
      pass.setBindGroup(0, counters.bindGroup!);
      pass.dispatchWorkgroups(1);
    }
  }

  /** Sets one counter (importState); ordered before any later submit. */
  write(counter: CounterSlot, step: number): void {
    this.device.queue.writeBuffer(counter.buffer, counter.slot * 4, Uint32Array.of(step));
  }

  get count(): number {
    return this.buffers.length;
  }

  destroy(): void {
    for (const { buffer } of this.buffers) buffer.destroy();
    this.buffers.length = 0;
  }
}
