import { describe, expect, it } from 'vitest';
import { planSlabbedElementwise } from '../../src/gpu/elementwise-plan';
import { bindingBytesOf, elementwiseSlabs, reductionBinding, reductionSlabs, tensorBytes } from '../../src/gpu/slabs';
import { planSlabbedReduction } from '../../src/gpu/statistics-plan';
import { defaultTuning, softwareAdapterTuning, type KernelTuning } from '../../src/gpu/tuning';
import { BatchNormError } from '../../src/errors';
import { channelView } from '../../src/layout';

const ALIGN = 256;
const tunings: KernelTuning[] = [defaultTuning, { ...defaultTuning, ...softwareAdapterTuning }];

/** Shapes (NCHW view [outer, C, inner]) that take each way of splitting at the binding sizes below. */
const views = [
  [1000, 12, 1],
  [333, 7, 1],
  [9, 3, 35],
  [3, 5, 143],
  [4, 6, 40],
  [2, 3, 1001],
  [2, 2, 400],
  [2, 3, 193],
  [1, 1, 5000],
  [7, 1, 1],
].map(([outer, C, inner]) => channelView([outer, C, inner], 'NCL'));
const bindings = [1024, 1280, 2048, 4096, 1 << 20];

describe('reduction slabs', () => {
  it('cover every value exactly once, in dense sub-views that fit one aligned binding', () => {
    for (const view of views) {
      for (const bindingBytes of bindings) {
        let slabs;
        try {
          slabs = reductionSlabs(view, bindingBytes, ALIGN);
        } catch (error) {
          // Only a row of channels wider than a binding cannot be split.
          expect(view.inner).toBe(1);
          expect((error as BatchNormError).code).toBe('too-large');
          continue;
        }
        const seen = new Uint8Array(view.size);
        for (const slab of slabs) {
          const { outer, channels, inner } = slab.view;
          // Dense: either whole rows, or one row's channel range, or one run's piece.
          expect(channels === view.channels || outer === 1).toBe(true);
          expect(inner === view.inner || (outer === 1 && channels === 1)).toBe(true);
          for (const unitBytes of [4, 16]) {
            if (unitBytes === 16 && slab.firstElement % 4 !== 0) continue;
            const binding = reductionBinding(slab, unitBytes, ALIGN);
            expect(binding.offset % ALIGN).toBe(0);
            expect(binding.size).toBeLessThanOrEqual(bindingBytes);
            expect(binding.offset + binding.skip * unitBytes).toBe(slab.firstElement * 4);
          }
          // Mark the values of the slab by their global (o, c, i) as the kernels address them.
          const o0 = Math.floor(slab.firstElement / (view.channels * view.inner));
          const i0 = slab.firstElement % view.inner;
          for (let o = 0; o < outer; o++) {
            for (let c = 0; c < channels; c++) {
              for (let i = 0; i < inner; i++) {
                const global = ((o0 + o) * view.channels + slab.channelBase + c) * view.inner + i0 + i;
                expect(global - slab.firstElement).toBe((o * channels + c) * inner + i);
                seen[global]++;
              }
            }
          }
        }
        expect(seen.every((n) => n === 1)).toBe(true);
      }
    }
  });

  it('is the whole tensor when it fits, and splits when it does not', () => {
    expect(reductionSlabs(channelView([64, 4], 'NC'), 1024, ALIGN)).toHaveLength(1);
    expect(reductionSlabs(channelView([65, 4], 'NC'), 1024, ALIGN).length).toBeGreaterThan(1);
    expect(() => reductionSlabs(channelView([2, 300], 'NC'), 1024, ALIGN)).toThrow(/one row of 300 channels/);
  });

  it('give each slab its own partial rows, so finalize sees every (row, channel) once at most', () => {
    for (const tuning of tunings) {
      for (const view of views) {
        for (const bindingBytes of [1024, 2048, 1 << 20]) {
          if (view.inner === 1 && view.channels * 4 > bindingBytes - ALIGN) continue;
          const plan = planSlabbedReduction(view, tuning, 65535, bindingBytes, ALIGN);
          const writes = new Uint8Array(plan.chunks * view.channels);
          const slabs = reductionSlabs(view, bindingBytes, ALIGN);
          plan.slabs.forEach(({ params: p }, index) => {
            const slab = slabs[index];
            const rows = plan.shape === 'Rows' ? p.rowLanes : p.chunks;
            for (let k = 0; k < rows; k++) {
              for (let c = 0; c < slab.view.channels; c++) writes[(p.chunkBase + k) * view.channels + slab.channelBase + c]++;
            }
          });
          expect(writes.every((n) => n <= 1)).toBe(true);
          // Unwritten partials exist exactly when a slab holds only some channels; they are cleared.
          expect(writes.some((n) => n === 0)).toBe(plan.zeroFill);
        }
      }
    }
  });

  it('keeps the run shape for a one-value piece of a run, and vec4 only for aligned slabs', () => {
    const plan = planSlabbedReduction(channelView([2, 3, 193], 'NCL'), defaultTuning, 65535, 1024, ALIGN);
    expect(plan.shape).toBe('Runs');
    expect(plan.slabs.some((slab) => slab.params.inner === 1)).toBe(true);
    const vec4 = planSlabbedReduction(channelView([2, 2, 400], 'NCL'), defaultTuning, 65535, 1024, ALIGN);
    expect(vec4.slabs.every((slab) => slab.width === 'Vec4')).toBe(true);
    // Runs of 1001 values: a piece is vec4 exactly when it starts on a 16-byte boundary and its
    // length is a multiple of 4.
    const view = channelView([2, 3, 1001], 'NCL');
    const mixed = planSlabbedReduction(view, defaultTuning, 65535, 1024, ALIGN);
    const slabs = reductionSlabs(view, 1024, ALIGN);
    mixed.slabs.forEach((slab, index) => {
      const { firstElement, view: part } = slabs[index];
      expect(slab.width).toBe(firstElement % 4 === 0 && part.inner % 4 === 0 ? 'Vec4' : 'Scalar');
    });
    expect(new Set(mixed.slabs.map((slab) => slab.width)).size).toBe(2);
  });
});

describe('elementwise slabs', () => {
  it('cover every unit once with aligned offsets and the global index of their first unit', () => {
    for (const view of views) {
      for (const bindingBytes of bindings) {
        const plan = planSlabbedElementwise(view, defaultTuning, 65535, bindingBytes);
        let next = 0;
        for (const slab of plan.slabs) {
          expect(slab.params.base).toBe(next);
          expect(slab.binding.offset % ALIGN).toBe(0);
          expect(slab.binding.size).toBeLessThanOrEqual(bindingBytes);
          expect(slab.binding.offset).toBe(next * plan.unitBytes);
          next += slab.params.units;
        }
        expect(next * plan.unitBytes).toBe(view.size * 4);
      }
    }
    expect(elementwiseSlabs(10, 4, 1 << 20)).toEqual([{ firstUnit: 0, units: 10 }]);
  });

  it('uses the smaller of the device limit and the cap, rounded down to the alignment', () => {
    const limits = { maxStorageBufferBindingSize: 134217728, minStorageBufferOffsetAlignment: 256 };
    expect(bindingBytesOf(limits)).toBe(134217728);
    expect(bindingBytesOf(limits, 1300)).toBe(1280);
    expect(bindingBytesOf({ ...limits, maxStorageBufferBindingSize: 1000 }, 4096)).toBe(768);
  });
});

describe('float16 slabs (2-byte elements)', () => {
  // Odd counts among them ([333, 7, 1], [3, 5, 143], [2, 3, 1001], [2, 3, 193], [7, 1, 1]).
  const odd = views.filter((view) => view.size % 2 === 1);
  it('bind whole 4-byte words at aligned offsets, inside a buffer of tensorBytes(n, 2), covering every value once', () => {
    expect(odd.length).toBeGreaterThan(2);
    for (const view of views) {
      const bufferBytes = tensorBytes(view.size, 2);
      expect(bufferBytes % 4).toBe(0);
      expect(bufferBytes - 2 * view.size).toBe(view.size % 2 === 1 ? 2 : 0);
      for (const bindingBytes of bindings) {
        let slabs;
        try {
          slabs = reductionSlabs(view, bindingBytes, ALIGN, 2);
        } catch (error) {
          expect(view.inner).toBe(1);
          expect((error as BatchNormError).code).toBe('too-large');
          continue;
        }
        const seen = new Uint8Array(view.size);
        for (const slab of slabs) {
          for (const unitBytes of [2, 8]) {
            if (unitBytes === 8 && slab.firstElement % 4 !== 0) continue;
            const binding = reductionBinding(slab, unitBytes, ALIGN, 2);
            expect(binding.offset % ALIGN).toBe(0);
            expect(binding.size % 4).toBe(0);
            expect(binding.size).toBeLessThanOrEqual(bindingBytes);
            expect(binding.offset + binding.size).toBeLessThanOrEqual(bufferBytes);
            expect(binding.offset + binding.skip * unitBytes).toBe(slab.firstElement * 2);
            // The binding holds every value of the slab.
            expect(binding.offset + binding.size).toBeGreaterThanOrEqual((slab.firstElement + slab.view.size) * 2);
          }
          const o0 = Math.floor(slab.firstElement / (view.channels * view.inner));
          const i0 = slab.firstElement % view.inner;
          for (let o = 0; o < slab.view.outer; o++) {
            for (let c = 0; c < slab.view.channels; c++) {
              for (let i = 0; i < slab.view.inner; i++) seen[((o0 + o) * view.channels + slab.channelBase + c) * view.inner + i0 + i]++;
            }
          }
        }
        expect(seen.every((n) => n === 1)).toBe(true);
        // A float16 slab holds about twice the values of a float32 one.
        if (view.size * 4 > bindingBytes) expect(slabs.length).toBeLessThanOrEqual(reductionSlabs(view, bindingBytes, ALIGN).length);
      }
    }
  });

  it('elementwise: units of 2 or 8 bytes, words bound, the last one within the buffer', () => {
    for (const view of views) {
      const bufferBytes = tensorBytes(view.size, 2);
      for (const bindingBytes of bindings) {
        const plan = planSlabbedElementwise(view, defaultTuning, 65535, bindingBytes, 2);
        expect(plan.unitBytes).toBe(plan.variant === 'Scalar' ? 2 : 8);
        let next = 0;
        for (const slab of plan.slabs) {
          expect(slab.params.base).toBe(next);
          expect(slab.binding.offset % ALIGN).toBe(0);
          expect(slab.binding.size % 4).toBe(0);
          expect(slab.binding.size).toBeLessThanOrEqual(bindingBytes);
          expect(slab.binding.offset + slab.binding.size).toBeLessThanOrEqual(bufferBytes);
          expect(slab.binding.offset).toBe(next * plan.unitBytes);
          next += slab.params.units;
        }
        expect(next * plan.unitBytes).toBe(view.size * 2);
      }
    }
  });
});
