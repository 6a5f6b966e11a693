/**
 * Our rows of the norm ops (layer, RMS and group norm, forward and backward), measured as batch
 * norm's are in ours.ts: `webgpu` is the GPU-resident calls (`bn.gpu.norms.encodeForward` /
 * `encodeBackward`, K calls recorded into one encoder, nothing read back while timed), timed
 * interleaved with the copy floor on the same device; `cpu` is the host-array calls
 * (`bn.norms.*`) on the CPU path. Outputs are checked against the CPU path after timing.
 */
import type { BatchNorm, NormBackwardArgs, NormForwardArgs } from '../../src/index';
import type { AnyNormOptions } from '../../src/norms/norm-types';
import { resolveNormScalars } from '../../src/norms/norm-options';
import type { MeasuredRow, MissingRow, NormOpInfo, PageResult, TimingPlan } from '../lib/types';
import { hostX, normCallOptions, runNorm, type CaseData } from './case-data';
import { copyFloor, copyShapesFor } from './copy-kernel';
import { errorsAgainst, oneLine, output, readBack, timeCpuRow, upload, withErrorScopes, type Ours } from './ours';
import { summarize, timeGpuInterleaved, type Encode, type Samples } from './timing';

/** Rows of statistics a norm case has: one invStd per row of the CPU path's forward. */
function rowsOf(data: CaseData): number {
  const invStd = data.reference.invStd ?? data.normSaved?.invStd;
  if (!invStd) throw new Error('a norm case needs its CPU reference first (prepare)');
  return invStd.length;
}

/** copy and webgpu of a norm case, repetitions interleaved; then webgpu's outputs checked against the CPU path. */
export async function measureNormGpu(ours: Ours, data: CaseData, norm: NormOpInfo, plan: TimingPlan): Promise<PageResult> {
  const { device } = ours.bench;
  const elements = data.view.size;
  const rows = rowsOf(data);
  const buffers: GPUBuffer[] = [];
  const keep = (buffer: GPUBuffer) => (buffers.push(buffer), buffer);
  const missing: MissingRow[] = [];
  const result: MeasuredRow[] = [];
  const timerName = ours.timer.method;
  const gpuTimed = (what: string) =>
    ours.timer.timestamps
      ? `GPU time (timestamp-query) of ${what}, K per submit, per iteration; no readback`
      : `wall clock from encoding to onSubmittedWorkDone of ${what}, K per submit, per iteration; no readback`;
  const gpuNorms = ours.gpu.norms;
  let copy: ReturnType<typeof copyFloor> | undefined;
  try {
    const x = keep(upload(device, 'x', hostX(data)));
    copy = copyFloor(device, x, keep(output(device, 'copy.dst', elements)), elements, copyShapesFor(ours.bench.adapter.isFallbackAdapter));
    const gamma = keep(upload(device, 'gamma', data.gamma));
    const beta = norm.kind === 'rms' ? undefined : keep(upload(device, 'beta', data.beta));
    // [mean | variance | invStd | scale | shift], one value per row each.
    const stats = keep(device.createBuffer({ label: 'bench.norm.stats', size: 5 * rows * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC }));
    const out = keep(output(device, norm.backward ? 'dx' : 'y', elements));
    // The call's options in the host-array call's form (kind, shape, eps, groups …).
    const call = { kind: norm.kind, ...normCallOptions(data, norm) };
    // Kernel launches per call, as the engine plans them for this shape; a call the engine cannot
    // plan (e.g. a backward above one storage binding) fails below, where its reason is reported.
    let dispatches: number | undefined;
    try {
      dispatches = gpuNorms.dispatchCount(norm.backward ? 'backward' : 'forward', resolveNormScalars(norm.kind, normCallOptions(data, norm) as AnyNormOptions));
    } catch {
      dispatches = undefined;
    }
    let encode: Encode;
    let what: string;
    let perRow: Record<string, number> = {};
    let perParam: Record<string, GPUBuffer> = {};
    if (!norm.backward) {
      what = `bn.gpu.norms.encodeForward({ kind: '${norm.kind}' }) (row statistics, finalize, apply)`;
      encode = (encoder) => void gpuNorms.encodeForward(encoder, { ...call, x, y: out, gamma, beta, stats } as NormForwardArgs);
      perRow = norm.kind === 'rms' ? { invStd: 2 } : { mean: 0, invStd: 2 };
    } else {
      what = `bn.gpu.norms.encodeBackward({ kind: '${norm.kind}' }) (row sums, parameter sums, dx; the statistics come from an encodeForward run before timing)`;
      const dy = keep(upload(device, 'dy', data.dy as Float32Array));
      const dgamma = keep(output(device, 'dgamma', data.gamma.length));
      const dbeta = norm.kind === 'rms' ? undefined : keep(output(device, 'dbeta', data.gamma.length));
      // The forward that writes the statistics the backward reads; not timed. Its y goes into the
      // dx buffer, which the backward overwrites.
      const encoder = device.createCommandEncoder({ label: 'bench.norm.backward.forward' });
      gpuNorms.encodeForward(encoder, { ...call, x, y: out, gamma, beta, stats } as NormForwardArgs);
      device.queue.submit([encoder.finish()]);
      encode = (enc) => gpuNorms.encodeBackward(enc, { ...call, dy, x, stats, dx: out, gamma, dgamma, dbeta } as NormBackwardArgs);
      perParam = dbeta ? { dgamma, dbeta } : { dgamma };
    }
    const variants: Encode[] = [...copy.variants, encode];
    const copies = copy.variants.length;
    let samples: Samples[] | undefined;
    let failure: string | undefined;
    try {
      samples = await withErrorScopes(device, () => timeGpuInterleaved(ours.timer, variants, plan));
      failure = await ours.engineErrors();
    } catch (error) {
      failure = (await ours.engineErrors()) ?? oneLine(error);
    }
    if (failure) {
      missing.push({ impl: 'webgpu', reason: `failed: ${failure}` });
      samples = await withErrorScopes(device, () => timeGpuInterleaved(ours.timer, variants.slice(0, copies), plan));
    }
    const floor = copy.fastest(samples!.slice(0, copies).map((s) => summarize(s).ms));
    result.push({ impl: 'copy', ...summarize(samples![floor]), timer: timerName, timed: gpuTimed(copy.describe(floor)) });
    if (!failure) {
      const actual: Record<string, Float32Array> = { [norm.backward ? 'dx' : 'y']: await readBack(device, out, 0, elements) };
      for (const [name, block] of Object.entries(perRow)) actual[name] = await readBack(device, stats, block * rows * 4, rows);
      for (const [name, buffer] of Object.entries(perParam)) actual[name] = await readBack(device, buffer, 0, data.gamma.length);
      result.push({
        impl: 'webgpu',
        ...summarize(samples![copies]),
        timer: timerName,
        timed: gpuTimed(what),
        ...errorsAgainst(data.reference, actual),
        reference: data.referenceSource,
        ...(dispatches !== undefined ? { dispatches } : {}),
      });
    }
  } finally {
    copy?.destroy();
    await device.queue.onSubmittedWorkDone();
    for (const buffer of buffers) buffer.destroy();
  }
  return { rows: result, missing };
}

/** The host-array norm call on the CPU path (backward: from the CPU path's saved statistics); outputs are new arrays, as a caller gets them. */
export function measureNormCpu(cpu: BatchNorm, data: CaseData, norm: NormOpInfo, plan: TimingPlan): Promise<PageResult> {
  const name = `bn.norms.${norm.kind}Norm${norm.backward ? 'Backward(dy, x, options, saved)' : '(x, options)'}`;
  const what = `${name} on the CPU path${norm.backward ? ' (saved statistics from the forward)' : ''}`;
  const x = hostX(data);
  return timeCpuRow(data, () => runNorm(cpu, data, norm, x, data.normSaved), what, plan);
}
