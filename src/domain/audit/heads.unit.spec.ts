import { createHash } from 'node:crypto';
import { compareHead, EMPTY_ROOT, evolveSeals, initialSealsState, leafHash, merkleRoot, seal, type StreamHead } from './heads';

const sha = (...parts: Array<Buffer | string>): Buffer => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
};
const head = (streamId: string, revision = 0, fill = 'a'): StreamHead => ({ streamId, revision, hash: fill.repeat(64) });

describe('the Merkle root of stream heads', () => {
  it('is SHA-256 of nothing for no streams, and the leaf itself for one', () => {
    expect(merkleRoot([])).toBe(sha().toString('hex'));
    expect(EMPTY_ROOT).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    const one = head('member-1', 3);
    expect(merkleRoot([one])).toBe(sha(Buffer.from([0]), '["member-1",3,"' + 'a'.repeat(64) + '"]').toString('hex'));
  });

  it('pairs leaves with a 0x01 prefix and carries an odd last node up as it is', () => {
    const heads = [head('a'), head('b', 1, 'b'), head('c', 2, 'c')];
    const [a, b, c] = heads.map(leafHash) as [Buffer, Buffer, Buffer];
    const ab = sha(Buffer.from([1]), a, b);
    expect(merkleRoot(heads)).toBe(sha(Buffer.from([1]), ab, c).toString('hex'));
  });

  it('orders stream ids by their UTF-8 bytes, as COLLATE "C" does, and refuses any other order', () => {
    // In UTF-16 code units U+1F600 (D83D DE00) sorts before U+FF5E; in UTF-8 bytes U+FF5E
    // (EF BD 9E) sorts before U+1F600 (F0 9F 98 80). The two orders disagree; bytes win.
    const bmp = head('member-\uff5e');
    const astral = head('member-\u{1f600}');
    expect(merkleRoot([bmp, astral])).toMatch(/^[0-9a-f]{64}$/);
    expect(() => merkleRoot([astral, bmp])).toThrow(/out of order/);
    expect(() => merkleRoot([head('a'), head('a')])).toThrow(/out of order/);
  });

  it('changes with any stream, revision or hash', () => {
    const base = merkleRoot([head('a'), head('b')]);
    expect(merkleRoot([head('a'), head('b', 1)])).not.toBe(base);
    expect(merkleRoot([head('a'), head('b', 0, 'c')])).not.toBe(base);
    expect(merkleRoot([head('a')])).not.toBe(base);
  });
});

describe('a sealed head against the stream now', () => {
  const sealed = head('member-1', 4, 'd');
  it('is fine when the stream still holds that event, longer or not', () => {
    expect(compareHead(sealed, { lastRevision: 4, hashAtSealedRevision: 'd'.repeat(64) })).toBeNull();
    expect(compareHead(sealed, { lastRevision: 9, hashAtSealedRevision: 'd'.repeat(64) })).toBeNull();
  });
  it('names a vanished, a truncated and a rewritten stream', () => {
    expect(compareHead(sealed, { lastRevision: null, hashAtSealedRevision: null })).toEqual({ kind: 'vanished', streamId: 'member-1', sealedRevision: 4 });
    expect(compareHead(sealed, { lastRevision: 3, hashAtSealedRevision: null })).toEqual({ kind: 'truncated', streamId: 'member-1', sealedRevision: 4, lastRevision: 3 });
    expect(compareHead(sealed, { lastRevision: 4, hashAtSealedRevision: 'e'.repeat(64) })).toMatchObject({ kind: 'rewritten', sealedHash: 'd'.repeat(64), storedHash: 'e'.repeat(64) });
  });
});

describe('seals', () => {
  const now = new Date('2026-11-30T02:00:00.000Z');
  it('chain: each names the root before it', () => {
    const first = seal(initialSealsState, { position: 10n, streams: 2, events: 11, root: 'r1' }, now);
    expect(first).toEqual([{ type: 'HeadsSealed', data: { sealNumber: 1, position: '10', streams: 2, events: 11, root: 'r1', previousRoot: null, sealedAt: now.toISOString() } }]);
    const state = first.reduce(evolveSeals, initialSealsState);
    expect(seal(state, { position: 12n, streams: 3, events: 13, root: 'r2' }, now)[0]!.data).toMatchObject({ sealNumber: 2, previousRoot: 'r1' });
  });
  it('records nothing at a position already sealed', () => {
    const state = seal(initialSealsState, { position: 10n, streams: 2, events: 11, root: 'r1' }, now).reduce(evolveSeals, initialSealsState);
    expect(seal(state, { position: 10n, streams: 2, events: 11, root: 'r1' }, now)).toEqual([]);
  });
});
