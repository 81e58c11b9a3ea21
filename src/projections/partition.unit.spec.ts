import fc from 'fast-check';
import { layoutOf, partitionName, partitionOf, partitions, streamHash } from './partition';

describe('partitions by stream id', () => {
  it('hashes with FNV-1a 32, stable across processes and releases (a stored layout depends on it)', () => {
    // Reference values of FNV-1a 32 over ASCII.
    expect(streamHash('')).toBe(0x811c9dc5);
    expect(streamHash('a')).toBe(0xe40c292c);
    expect(streamHash('foobar')).toBe(0xbf9cf968);
  });

  it('puts every stream in exactly one partition of a layout, the same one every time', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 1, max: 64 }), (streamId, count) => {
        const index = partitionOf(streamId, count);
        expect(index).toBeGreaterThanOrEqual(0);
        expect(index).toBeLessThan(count);
        expect(partitionOf(streamId, count)).toBe(index);
        expect(partitions(count).filter((partition) => partitionOf(streamId, partition.count) === partition.index)).toHaveLength(1);
      }),
    );
  });

  it('spreads member streams evenly enough', () => {
    const counts = [0, 0, 0, 0];
    for (let index = 0; index < 10_000; index += 1) counts[partitionOf(`member-${index.toString(16).padStart(8, '0')}-4f1c`, 4)]! += 1;
    for (const count of counts) expect(Math.abs(count - 2_500)).toBeLessThan(250);
  });

  it('names one partition as the projection itself, and reads layouts back from checkpoint names', () => {
    expect(partitionName('members', { index: 0, count: 1 })).toBe('members');
    expect(partitionName('members', { index: 2, count: 4 })).toBe('members#2/4');
    expect(layoutOf('members', 'members')).toBe(1);
    expect(layoutOf('members', 'members#2/4')).toBe(4);
    expect(layoutOf('members', 'members-extra#2/4')).toBeUndefined();
    expect(layoutOf('members', 'ledger')).toBeUndefined();
    expect(() => partitions(0)).toThrow();
    expect(() => partitions(65)).toThrow();
  });
});
