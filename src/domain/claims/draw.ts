import { createHash, createHmac } from 'node:crypto';
import { invariant } from '../shared';

/**
 * The verifiable draw of a lottery, a pure function anyone can recompute (docs/CLAIMS.md has the
 * same function in a few lines of Python):
 *
 * 1. `entries` sorted by code point (entry ids are ASCII, so byte order, as Python's `sorted`);
 * 2. a partial Fisher–Yates shuffle: for i = 0 .. k-1, swap entry i with entry i + u(i, n - i);
 * 3. u(i, m) is uniform in [0, m): r = the first 4 bytes (big-endian) of
 *    HMAC-SHA256(key = the seed's 32 bytes, message = ASCII "<i>:<attempt>"), attempt = 0, 1, ...;
 *    the first r below 2^32 - (2^32 mod m) gives r mod m (rejection sampling: no modulo bias);
 * 4. the winners are entries 0 .. k-1 after the shuffle, in prize order.
 *
 * The seed is published before entries open only as its SHA-256 (`commitment`), so the union
 * cannot pick a seed after seeing the entries, and nobody can predict the draw before the reveal.
 */

export const SEED_BYTES = 32;
const TWO_32 = 2 ** 32;
/** Each attempt is rejected with probability below 1/2: 64 rejections in a row are (2^-64) a broken HMAC. */
const MAX_ATTEMPTS = 64;

export const isSeedHex = (seedHex: string): boolean => /^[0-9a-f]{64}$/.test(seedHex);

/** SHA-256 of the seed's bytes, lower-case hex: what the union publishes before entries open. */
export function seedCommitment(seedHex: string): string {
  invariant(isSeedHex(seedHex), 'a seed is 32 bytes in lower-case hex');
  return createHash('sha256').update(Buffer.from(seedHex, 'hex')).digest('hex');
}

/** A uniform integer in [0, range) for shuffle step `step`, from the seed alone. */
export function uniformFromSeed(key: Buffer, step: number, range: number): number {
  invariant(Number.isSafeInteger(range) && range >= 1 && range <= TWO_32, `a range is 1 to 2^32 (got ${range})`);
  const limit = TWO_32 - (TWO_32 % range);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt += 1) {
    const r = createHmac('sha256', key).update(`${step}:${attempt}`, 'ascii').digest().readUInt32BE(0);
    if (r < limit) return r % range;
  }
  throw new Error(`invariant violated: ${MAX_ATTEMPTS} rejections in a row at step ${step}`);
}

/** Sorted by UTF-16 code unit, which for ASCII ids is byte order (the order Python's sorted() gives). */
export function sortEntries(entries: readonly string[]): string[] {
  return [...entries].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The winners, in prize order: at most `count`, all of them when fewer entered. */
export function drawWinners(seedHex: string, entries: readonly string[], count: number): string[] {
  invariant(isSeedHex(seedHex), 'a seed is 32 bytes in lower-case hex');
  invariant(Number.isSafeInteger(count) && count >= 0, 'a draw picks a whole number of winners');
  invariant(new Set(entries).size === entries.length, 'entries are distinct');
  const key = Buffer.from(seedHex, 'hex');
  const order = sortEntries(entries);
  const picks = Math.min(count, order.length);
  for (let step = 0; step < picks; step += 1) {
    const swap = step + uniformFromSeed(key, step, order.length - step);
    [order[step], order[swap]] = [order[swap]!, order[step]!];
  }
  return order.slice(0, picks);
}
