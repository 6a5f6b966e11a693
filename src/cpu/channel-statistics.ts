import type { ChannelStatistics } from '../channel-statistics';
import type { ResolvedOptions } from '../options';
import { channelMoments } from './channel-stats';

/** Per-channel (count, mean, M2) on the CPU path, float64 accumulation. */
export function cpuChannelStatistics(x: Float32Array, o: ResolvedOptions): ChannelStatistics {
  const { mean, variance } = channelMoments(x, o.view);
  const count = o.view.count;
  return { count, mean, m2: variance.map((v) => v * count) };
}
