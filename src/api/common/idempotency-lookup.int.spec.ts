import { createTestDatabase, type TestDatabase } from '../../../test/support/database';
import { IdempotencyLookup, MAX_LOOKUP_BATCH, RefusalWriter, type StoredRefusal } from './idempotency-lookup';

/** The gathered refusal lookups and writes on real PostgreSQL: each caller gets its own row, or null; each refusal is stored once. */

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

describe('RefusalWriter', () => {
  const refusal = (actor: string, key: string, code: string): StoredRefusal => ({
    actor,
    key,
    method: 'POST',
    path: '/v1/me/check-ins',
    requestHash: Buffer.from('dd', 'hex'),
    status: 409,
    json: JSON.stringify({ code }),
    omitted: false,
  });

  it('writes concurrent refusals in as few INSERTs as the one in flight allows, each replayable by its key', async () => {
    const writer = new RefusalWriter(() => database.db);
    const lookup = new IdempotencyLookup(() => database.db);
    await Promise.all(Array.from({ length: 30 }, (_unused, index) => writer.store(refusal(`w-${index}`, 'k-1', 'CHECKIN.ALREADY_TODAY'))));
    // The first goes alone; the 29 stored while it ran go together in the second.
    expect(writer.stats).toEqual({ queries: 2, refusals: 30 });
    for (const index of [0, 1, 29]) {
      expect(await lookup.find(`w-${index}`, 'k-1')).toMatchObject({ status: 'done', response_status: 409, response_text: '{"code":"CHECKIN.ALREADY_TODAY"}' });
    }
  });

  it('keeps the row already stored under a key, and the first of two refusals of one key in a batch, as a lone INSERT ... ON CONFLICT DO NOTHING would', async () => {
    const writer = new RefusalWriter(() => database.db);
    const lookup = new IdempotencyLookup(() => database.db);
    await writer.store(refusal('m-1', 'k-1', 'SOMETHING.ELSE')); // m-1 / k-1 is stored (beforeAll)
    expect((await lookup.find('m-1', 'k-1'))?.response_text).toBe('{"code":"CHECKIN.ALREADY_TODAY"}');
    const first = writer.store(refusal('v-1', 'k-9', 'FIRST.CODE')); // alone
    await Promise.all([first, writer.store(refusal('v-2', 'k-9', 'SECOND.A')), writer.store(refusal('v-2', 'k-9', 'SECOND.B'))]);
    expect(writer.stats.queries).toBe(3);
    expect((await lookup.find('v-2', 'k-9'))?.response_text).toBe('{"code":"SECOND.A"}');
  });

  it('rejects every refusal of a failed INSERT, and writes the next ones', async () => {
    let broken = true;
    const writer = new RefusalWriter(() => (broken ? ({ none: () => Promise.reject(new Error('connection lost')) } as never) : database.db));
    await expect(Promise.all([writer.store(refusal('f-1', 'k-1', 'A')), writer.store(refusal('f-2', 'k-1', 'B'))])).rejects.toThrow('connection lost');
    broken = false;
    await writer.store(refusal('f-2', 'k-1', 'B'));
    expect((await new IdempotencyLookup(() => database.db).find('f-2', 'k-1'))?.response_text).toBe('{"code":"B"}');
  });
});
