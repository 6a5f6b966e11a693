import type { ChannelStatistics } from '../channel-statistics';
import type { ResolvedOptions } from '../options';
import { channelMeans, channelVariances } from './channel-stats';

/** Per-channel (count, mean, M2) on the CPU path, float64 accumulation. */
export function cpuChannelStatistics(x: Float32Array, o: ResolvedOptions): ChannelStatistics {
  const mean = channelMeans(x, o.view);
  const variance = channelVariances(x, o.view, mean);
  const count = o.view.count;
  return { count, mean, m2: variance.map((v) => v * count) };
}
