import fc from 'fast-check';
import { DomainError } from './errors';
import { fenToYuan, splitFen, yuanToFen } from './money';

describe('money at the edges', () => {
  it('converts yuan text to whole fen and back exactly', () => {
    expect(yuanToFen('200.00')).toBe(20_000);
    expect(yuanToFen('0.1')).toBe(10);
    expect(yuanToFen('1200000')).toBe(120_000_000);
    expect(yuanToFen('0.29')).toBe(29); // 0.29 * 100 is 28.999999999999996 in binary floating point.
    expect(fenToYuan(20_050)).toBe('200.50');
    expect(fenToYuan(0)).toBe('0.00');
    expect(fenToYuan(-5)).toBe('-0.05');
    fc.assert(fc.property(fc.integer({ min: 0, max: 999_999_999_999_99 }), (fen) => yuanToFen(fenToYuan(fen)) === fen));
  });

  it('refuses yuan text that is not a plain non-negative amount with at most two decimals', () => {
    for (const bad of ['', '-1', '1.001', '1e3', ' 1', '01', '1,000', 'NaN', '0x10', '12345678901234']) {
      expect(() => yuanToFen(bad)).toThrow(DomainError);
    }
  });
});

describe('splitFen (largest remainder)', () => {
  it('splits ¥100.00 over three members with the odd fen to the first', () => {
    expect(splitFen(10_000, [1, 1, 1])).toEqual([3334, 3333, 3333]);
    expect(splitFen(100, [50, 30, 20])).toEqual([50, 30, 20]);
    expect(splitFen(1, [1, 1])).toEqual([1, 0]);
    expect(splitFen(7, [0, 1])).toEqual([0, 7]);
  });

  it('never creates or loses a fen, and keeps every share within one fen of its exact part', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000_000_000 }), fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 50 }), (total, weights) => {
        fc.pre(weights.some((weight) => weight > 0));
        const shares = splitFen(total, weights);
        const sum = weights.reduce((a, b) => a + b, 0);
        expect(shares.reduce((a, b) => a + b, 0)).toBe(total);
        shares.forEach((share, index) => {
          expect(Number.isSafeInteger(share) && share >= 0).toBe(true);
          expect(Math.abs(share - (total * weights[index]!) / sum)).toBeLessThan(1);
        });
      }),
    );
  });

  it('refuses splits that make no sense as programmer errors', () => {
    expect(() => splitFen(1.5, [1])).toThrow('invariant violated');
    expect(() => splitFen(10, [])).toThrow('invariant violated');
    expect(() => splitFen(10, [0, 0])).toThrow('invariant violated');
    expect(() => splitFen(10, [-1, 2])).toThrow('invariant violated');
  });
});
