import type { ChannelStatistics } from '../channel-statistics';
import type { ResolvedOptions } from '../options';
import type { BufferPool } from './buffer-pool';
import type { GpuContext } from './context';
import { encodeStatistics } from './encode-forward';
import { run, STORAGE_OUT } from './host-forward';
import { statsByteLength } from './resident-options';

/** Per-channel (count, mean, M2) of a host array, computed on the GPU. */
export function gpuChannelStatistics(context: GpuContext, pool: BufferPool, x: Float32Array, o: ResolvedOptions): Promise<ChannelStatistics> {
  return run(context, pool, 'channelStatistics', async (transfer) => {
    const C = o.view.channels;
    const stats = transfer.buffer('stats', statsByteLength(C), STORAGE_OUT());
    const encoder = context.device.createCommandEncoder({ label: 'BatchNorm.channelStatistics.encoder' });
    encodeStatistics(context, encoder, { ...o, x: transfer.upload('x', x)!, stats });
    const [meanAndVariance] = await transfer.submitAndRead(encoder, [[stats, 2 * C * 4]]);
    const count = o.view.count;
    return {
      count,
      mean: Float64Array.from(meanAndVariance.subarray(0, C)),
      m2: Float64Array.from(meanAndVariance.subarray(C, 2 * C), (v) => v * count),
    };
  });
}
