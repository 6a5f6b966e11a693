/**
 * The subgroup sizes a compute kernel actually sees on an adapter with `subgroups`: the adapter's
 * reported range is a promise about every pipeline, this is what the workgroup-sum kernels get.
 */
const source = /* wgsl */ `
enable subgroups;
@group(0) @binding(0) var<storage, read_write> seen: array<atomic<u32>, 129>;
@compute @workgroup_size(64)
fn main(@builtin(subgroup_size) size: u32) {
  atomicAdd(&seen[min(size, 128u)], 1u);
}`;

export async function measureSubgroupSizes(adapter: GPUAdapter): Promise<number[]> {
  const device = await adapter.requestDevice({ label: 'portable.subgroupSize.device', requiredFeatures: ['subgroups' as GPUFeatureName] });
  try {
    const module = device.createShaderModule({ label: 'portable.subgroupSize', code: source });
    const pipeline = device.createComputePipeline({ label: 'portable.subgroupSize', layout: 'auto', compute: { module, entryPoint: 'main' } });
    const bytes = 129 * 4;
    const seen = device.createBuffer({ label: 'portable.subgroupSize.seen', size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
    const staging = device.createBuffer({ label: 'portable.subgroupSize.staging', size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const bindGroup = device.createBindGroup({ label: 'portable.subgroupSize', layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: seen } }] });
    const encoder = device.createCommandEncoder({ label: 'portable.subgroupSize' });
    const pass = encoder.beginComputePass({ label: 'portable.subgroupSize' });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(16);
    pass.end();
    encoder.copyBufferToBuffer(seen, 0, staging, 0, bytes);
    device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const counts = new Uint32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    return [...counts.keys()].filter((size) => counts[size] > 0);
  } finally {
    device.destroy();
  }
}
