import { createTestDatabase, type TestDatabase } from '../../../test/support/database';
import { IdempotencyLookup, MAX_LOOKUP_BATCH } from './idempotency-lookup';

/** The gathered refusal lookups on real PostgreSQL: each caller gets its own row, or null. */

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
  const insert = `INSERT INTO ul_idempotency (actor, key, method, path, request_hash, status, response_status, response_text, completed_at)
                  VALUES ($1, $2, 'POST', $3, $4, 'done', 409, $5, now())`;
  await database.db.none(insert, ['m-1', 'k-1', '/v1/me/check-ins', Buffer.from('aa', 'hex'), '{"code":"CHECKIN.ALREADY_TODAY"}']);
  await database.db.none(insert, ['m-2', 'k-1', '/v1/me/spends', Buffer.from('bb', 'hex'), '{"code":"POINTS.INSUFFICIENT"}']);
  // Actor and key split differently must not be confused with m-1 / k-1.
  await database.db.none(insert, ['m-1k', '-1', '/v1/me/holds', Buffer.from('cc', 'hex'), '{"code":"HOLD.NOT_FOUND"}']);
});

afterAll(async () => {
  await database.drop();
});

describe('IdempotencyLookup', () => {
  it('answers a lone lookup at once, with the stored row or null', async () => {
    const lookup = new IdempotencyLookup(() => database.db);
    expect(await lookup.find('m-1', 'k-1')).toMatchObject({ path: '/v1/me/check-ins', status: 'done', response_status: 409, response_text: '{"code":"CHECKIN.ALREADY_TODAY"}' });
    expect(await lookup.find('m-1', 'k-2')).toBeNull();
    expect(lookup.stats).toEqual({ queries: 2, keys: 2 });
  });

  it('gathers concurrent lookups into as few SELECTs as the one in flight allows, each answered with its own row', async () => {
    const lookup = new IdempotencyLookup(() => database.db);
    const asked: Array<[string, string]> = [['m-1', 'k-1'], ['m-2', 'k-1'], ['m-1k', '-1'], ['m-3', 'k-1'], ['m-1', 'k-1']];
    for (let index = 0; index < 40; index += 1) asked.push([`m-${index}`, `none-${index}`]);
    const rows = await Promise.all(asked.map(([actor, key]) => lookup.find(actor, key)));
    expect(rows.slice(0, 5).map((row) => row?.path ?? null)).toEqual(['/v1/me/check-ins', '/v1/me/spends', '/v1/me/holds', null, '/v1/me/check-ins']);
    expect(rows.slice(5).every((row) => row === null)).toBe(true);
    // The first lookup goes alone; the 44 asked while it ran go together in the second.
    expect(lookup.stats).toEqual({ queries: 2, keys: 45 });
  });

  it('splits a crowd larger than a batch into several SELECTs', async () => {
    const lookup = new IdempotencyLookup(() => database.db);
    const count = MAX_LOOKUP_BATCH * 2 + 1;
    const rows = await Promise.all(Array.from({ length: count }, (_unused, index) => lookup.find(index === count - 1 ? 'm-2' : `x-${index}`, 'k-1')));
    expect(rows[count - 1]?.path).toBe('/v1/me/spends');
    expect(rows.filter((row) => row !== null)).toHaveLength(1);
    expect(lookup.stats.keys).toBe(count);
    expect(lookup.stats.queries).toBe(3); // one alone, then MAX_LOOKUP_BATCH, then the rest
  });

  it('rejects every lookup of a failed SELECT, and serves the next ones', async () => {
    let broken = true;
    const lookup = new IdempotencyLookup(() => (broken ? ({ manyOrNone: () => Promise.reject(new Error('connection lost')) } as never) : database.db));
    await expect(Promise.all([lookup.find('m-1', 'k-1'), lookup.find('m-2', 'k-1')])).rejects.toThrow('connection lost');
    broken = false;
    expect((await lookup.find('m-2', 'k-1'))?.path).toBe('/v1/me/spends');
  });
});
