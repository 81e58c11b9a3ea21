import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { drawWinners, seedCommitment, uniformFromSeed } from '.';

/**
 * The draw is a published function: these vectors were computed with the Python recipe of
 * docs/CLAIMS.md (hmac + hashlib, nothing else), so the service and the recipe agree.
 */
const SEED = createHash('sha256').update('union-ledger test seed').digest('hex');

describe('the verifiable draw', () => {
  it('gives the winners the Python recipe gives', () => {
    expect(SEED).toBe('e95095f9d7e339679bdcc9360720e710a85d4e607a94a8da056ba7cb5def5ca2');
    expect(seedCommitment(SEED)).toBe('da308fd841a1626292ebd1baca1c09b4c37aab3323d155348e1ad2c2237f77f0');
    const entries = Array.from({ length: 20 }, (_, n) => `m${String(n + 1).padStart(3, '0')}`);
    expect(drawWinners(SEED, entries, 5)).toEqual(['m006', 'm003', 'm010', 'm014', 'm015']);
    expect(drawWinners(SEED, ['b', 'a', 'c'], 10)).toEqual(['c', 'b', 'a']);
  });

  it('depends on the entries as a set, not on the order they arrived in', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.stringMatching(/^[a-z0-9]{1,8}$/), { maxLength: 40 }), fc.nat(45), (entries, count) => {
        const shuffled = [...entries].reverse();
        const winners = drawWinners(SEED, entries, count);
        expect(drawWinners(SEED, shuffled, count)).toEqual(winners);
        expect(winners).toHaveLength(Math.min(count, entries.length));
        expect(new Set(winners).size).toBe(winners.length);
        for (const winner of winners) expect(entries).toContain(winner);
      }),
    );
  });

  it('draws each entry about equally often over many seeds (no modulo bias to speak of)', () => {
    const entries = ['a', 'b', 'c'];
    const firsts: Record<string, number> = { a: 0, b: 0, c: 0 };
    const runs = 3000;
    for (let run = 0; run < runs; run += 1) {
      const seed = createHash('sha256').update(`seed-${run}`).digest('hex');
      firsts[drawWinners(seed, entries, 1)[0]!]! += 1;
    }
    // Each count is binomial(3000, 1/3): mean 1000, standard deviation about 26; 5 deviations is 130.
    for (const count of Object.values(firsts)) expect(Math.abs(count - runs / 3)).toBeLessThan(130);
  });

  it('rejects the top of the 32-bit range instead of folding it onto small numbers', () => {
    const key = Buffer.from(SEED, 'hex');
    // A range of 3 * 2^30 leaves 2^30 values above the limit: about a quarter of draws need a second attempt.
    const range = 3 * 2 ** 30;
    for (let step = 0; step < 200; step += 1) expect(uniformFromSeed(key, step, range)).toBeLessThan(range);
    expect(() => uniformFromSeed(key, 0, 0)).toThrow('invariant violated');
  });
});
