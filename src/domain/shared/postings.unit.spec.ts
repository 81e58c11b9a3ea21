import { posting, schemaVersionOf, upcastPostings } from './postings';

describe('postings', () => {
  it('move a positive whole amount of one asset between two accounts', () => {
    expect(posting('issuer:checkin', 'member:m1:available', 5, 'POINTS')).toEqual({
      debit: 'issuer:checkin',
      credit: 'member:m1:available',
      amount: 5,
      asset: 'POINTS',
    });
    expect(() => posting('a', 'b', 0, 'POINTS')).toThrow('invariant violated');
    expect(() => posting('a', 'b', 1.5, 'CNY_FEN')).toThrow('invariant violated');
    expect(() => posting('a', 'a', 1, 'CNY_FEN')).toThrow('invariant violated');
  });

  it('are stored at schema version 2; events without postings stay at 1', () => {
    expect(schemaVersionOf({ postings: [] })).toBe(2);
    expect(schemaVersionOf({ memberId: 'm1', day: '2026-11-30' })).toBe(1);
  });

  it('read version-1 points postings as POINTS, leave version 2 and other data alone, and can be applied twice', () => {
    const v1 = { grantId: 'g', points: 5, postings: [{ debit: 'issuer:checkin', credit: 'member:m1:available', points: 5 }] };
    const upcast = upcastPostings(v1, 1);
    expect(upcast).toEqual({ grantId: 'g', points: 5, postings: [{ debit: 'issuer:checkin', credit: 'member:m1:available', amount: 5, asset: 'POINTS' }] });
    expect(v1.postings[0]).toEqual({ debit: 'issuer:checkin', credit: 'member:m1:available', points: 5 }); // The stored data is not touched.
    expect(upcastPostings(upcast, 1)).toEqual(upcast);
    const v2 = { postings: [{ debit: 'a', credit: 'b', amount: 3, asset: 'CNY_FEN' }] };
    expect(upcastPostings(v2, 2)).toBe(v2);
    const plain = { day: '2026-11-30' };
    expect(upcastPostings(plain, 1)).toBe(plain);
  });
});
