import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCliOn } from '../../../test/support/cli';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database';
import { waitForFeedEnd } from '../../../test/support/feed';
import { testTimeout } from '../../../test/support/wait-for';
import { createEventStore } from '../../composition-root';
import { loadConfig } from '../../config/config';
import { posting, POSTINGS_SCHEMA_VERSION } from '../../domain/shared';
import { chainHash, contentDigest, GENESIS_HASH } from '../../eventstore/canonical';
import type { EventStore, EventToAppend, JsonObject } from '../../eventstore/event-store';
import type { DbTask } from '../../infra/database';
import { catchUpProjection } from '../../projections';
import { ledgerProjection } from '../../projections/ledger';

// Each test waits for the feed a few times (a transaction open elsewhere in the cluster hides new events).
jest.setTimeout(testTimeout(4));

/**
 * Every way a table owner can alter history, each caught by the tool that can see it
 * (docs/AUDIT.md, "Which check catches what"): `verify` recomputes every chain and judges the
 * journal against its own fold; `audit heads --compare` holds the database to an earlier seal kept
 * outside it. The ledger: members a, b and c earn points (postings) and check in (no postings);
 * it is sealed, the journal is projected, and only then is history altered.
 */

let database: TestDatabase;
let store: EventStore;
let directory: string;
let sealFile: string;

function grant(memberId: string, points: number): EventToAppend {
  return {
    eventId: randomUUID(),
    type: 'ValueMoved',
    schemaVersion: POSTINGS_SCHEMA_VERSION,
    data: { memberId, postings: [posting('issuer:checkin', `member:${memberId}:available`, points, 'POINTS')] } as unknown as JsonObject,
    metadata: { occurredAt: new Date().toISOString(), actor: { type: 'system', id: 'test' } },
  };
}

function checkIn(memberId: string, day: string): EventToAppend {
  return {
    eventId: randomUUID(),
    type: 'CheckedIn',
    data: { memberId, day },
    metadata: { occurredAt: new Date().toISOString(), actor: { type: 'member', id: memberId } },
  };
}

/** A table owner switches the append-only trigger off, alters history and switches it on again. */
async function asOwner(work: (tx: DbTask) => Promise<unknown>): Promise<void> {
  await database.db.tx(async (tx) => {
    await tx.none('ALTER TABLE ul_events DISABLE TRIGGER ul_events_no_update');
    await work(tx);
    await tx.none('ALTER TABLE ul_events ENABLE TRIGGER ul_events_no_update');
  });
}

/** Recomputes the digests and hashes of a stream from `fromRevision` on, as a careful forger would. */
async function rechain(tx: DbTask, streamId: string, fromRevision: number): Promise<void> {
  const rows = await tx.any<{ stream_revision: string; event_id: string; event_type: string; schema_version: number; data: unknown; metadata: unknown; recorded_ms: string; hash: Buffer }>(
    `SELECT stream_revision, event_id, event_type, schema_version, data, metadata, (extract(epoch FROM recorded_at) * 1000)::bigint AS recorded_ms, hash
       FROM ul_events WHERE stream_id = $1 ORDER BY stream_revision`,
    [streamId],
  );
  let previous: Buffer = GENESIS_HASH;
  for (const row of rows) {
    const revision = BigInt(row.stream_revision);
    if (revision < BigInt(fromRevision)) {
      previous = row.hash;
      continue;
    }
    const digest = contentDigest({ eventId: row.event_id, streamId, type: row.event_type, schemaVersion: row.schema_version, data: row.data, metadata: row.metadata });
    const hash = chainHash(previous, revision, BigInt(row.recorded_ms), digest);
    await tx.none('UPDATE ul_events SET content_digest = $1, hash = $2 WHERE stream_id = $3 AND stream_revision = $4', [digest, hash, streamId, row.stream_revision]);
    previous = hash;
  }
}

const verify = (): Promise<{ code: number; stdout: string }> => runCliOn(database, 'verify');
const compareHeads = (): Promise<{ code: number; stdout: string }> => runCliOn(database, 'audit', 'heads', '--compare', sealFile);

beforeEach(async () => {
  database = await createTestDatabase();
  store = createEventStore(loadConfig({}), database.db, { listen: false });
  for (const memberId of ['a', 'b', 'c']) {
    await store.appendToStream(`member-${memberId}`, [grant(memberId, 5), checkIn(memberId, '2026-11-28')]);
    await store.appendToStream(`member-${memberId}`, [grant(memberId, 10), checkIn(memberId, '2026-11-29'), checkIn(memberId, '2026-11-30')]);
  }
  await waitForFeedEnd(database.db);
  directory = await mkdtemp(path.join(tmpdir(), 'ul-audit-'));
  sealFile = path.join(directory, 'seal.ndjson');
  const sealed = await runCliOn(database, 'audit', 'seal', '--out', sealFile);
  expect(sealed.stdout).toMatch(/^sealed #1 at position \d+: 3 streams, 15 events, root [0-9a-f]{64}/);
  await waitForFeedEnd(database.db);
  await catchUpProjection(store, database.db, ledgerProjection());
  // The untouched ledger passes both.
  expect((await verify()).code).toBe(0);
  expect(await compareHeads()).toMatchObject({ code: 0, stdout: expect.stringContaining('OK: 3 sealed stream heads of seal #1') });
});

afterEach(async () => {
  await store.close();
  await database.drop();
  await rm(directory, { recursive: true, force: true });
});

describe('verify: an edited event is caught by its own chain', () => {
  it('catches edited data as content altered at that revision', async () => {
    await asOwner((tx) => tx.none(`UPDATE ul_events SET data = jsonb_set(data, '{memberId}', '"z"') WHERE stream_id = 'member-b' AND stream_revision = 1`));
    const { code, stdout } = await verify();
    expect(code).toBe(1);
    expect(stdout).toContain('ALTERED: first broken link in stream member-b at revision 1');
    expect(stdout).toContain('content altered');
  });

  it('catches edited metadata as content altered', async () => {
    await asOwner((tx) => tx.none(`UPDATE ul_events SET metadata = jsonb_set(metadata, '{actor,id}', '"admin"') WHERE stream_id = 'member-a' AND stream_revision = 3`));
    const { code, stdout } = await verify();
    expect(code).toBe(1);
    expect(stdout).toMatch(/member-a at revision 3 .*: content altered/);
  });

  it('catches an edited type as content altered', async () => {
    await asOwner((tx) => tx.none(`UPDATE ul_events SET event_type = 'PointsSpent' WHERE stream_id = 'member-c' AND stream_revision = 2`));
    expect(await verify()).toMatchObject({ code: 1, stdout: expect.stringMatching(/member-c at revision 2 .*: content altered/) });
  });

  it('catches an edited event id as content altered', async () => {
    await asOwner((tx) => tx.none(`UPDATE ul_events SET event_id = $1 WHERE stream_id = 'member-c' AND stream_revision = 4`, [randomUUID()]));
    expect(await verify()).toMatchObject({ code: 1, stdout: expect.stringMatching(/member-c at revision 4 .*: content altered/) });
  });

  it('catches an edited recorded_at as a hash mismatch (the time is in the link, not in the digest)', async () => {
    await asOwner((tx) => tx.none(`UPDATE ul_events SET recorded_at = recorded_at - interval '1 day' WHERE stream_id = 'member-a' AND stream_revision = 1`));
    expect(await verify()).toMatchObject({ code: 1, stdout: expect.stringMatching(/member-a at revision 1 .*: hash mismatch/) });
  });

  it('catches an edited stored digest as digest altered (the content still gives the hashed digest)', async () => {
    await asOwner((tx) => tx.none(`UPDATE ul_events SET content_digest = sha256('forged') WHERE stream_id = 'member-b' AND stream_revision = 3`));
    expect(await verify()).toMatchObject({ code: 1, stdout: expect.stringMatching(/member-b at revision 3 .*: digest altered/) });
  });

  it('catches an edit whose digest and hash were recomputed at the next link', async () => {
    await asOwner(async (tx) => {
      await tx.none(`UPDATE ul_events SET data = jsonb_set(data, '{day}', '"2026-11-27"') WHERE stream_id = 'member-a' AND stream_revision = 1`);
      const row = await tx.one<{ event_id: string; data: unknown; metadata: unknown; recorded_ms: string }>(
        `SELECT event_id, data, metadata, (extract(epoch FROM recorded_at) * 1000)::bigint AS recorded_ms FROM ul_events WHERE stream_id = 'member-a' AND stream_revision = 1`,
      );
      const previous = await tx.one<{ hash: Buffer }>(`SELECT hash FROM ul_events WHERE stream_id = 'member-a' AND stream_revision = 0`);
      const digest = contentDigest({ eventId: row.event_id, streamId: 'member-a', type: 'CheckedIn', schemaVersion: 1, data: row.data, metadata: row.metadata });
      await tx.none(`UPDATE ul_events SET content_digest = $1, hash = $2 WHERE stream_id = 'member-a' AND stream_revision = 1`, [
        digest,
        chainHash(previous.hash, 1n, BigInt(row.recorded_ms), digest),
      ]);
    });
    expect(await verify()).toMatchObject({ code: 1, stdout: expect.stringMatching(/member-a at revision 2 .*: hash mismatch/) });
  });

  it('catches a deleted middle event as a revision gap', async () => {
    await asOwner((tx) => tx.none(`DELETE FROM ul_events WHERE stream_id = 'member-b' AND stream_revision = 2`));
    expect(await verify()).toMatchObject({ code: 1, stdout: expect.stringMatching(/member-b at revision 3 .*: revision gap/) });
  });

  it('reports a posting tampered to 0.5 points with exit 1 and names it, instead of crashing', async () => {
    await asOwner((tx) => tx.none(`UPDATE ul_events SET data = jsonb_set(data, '{postings,0,amount}', '0.5') WHERE stream_id = 'member-c' AND stream_revision = 0`));
    const { code, stdout } = await verify();
    expect(code).toBe(1);
    expect(stdout).toContain('content altered');
    expect(stdout).toMatch(/bad posting in event [0-9a-f-]{36}: .*"amount":0.5/);
    expect(stdout).toContain('account member:c:available (POINTS): events 10.5, journal 15');
  });
});

describe('audit heads --compare: what leaves every chain intact is caught by the seal', () => {
  it('catches a deleted last event as a truncated stream (verify cannot)', async () => {
    await asOwner((tx) => tx.none(`DELETE FROM ul_events WHERE stream_id = 'member-a' AND stream_revision = 4`));
    expect(await verify()).toMatchObject({ stdout: expect.stringContaining('OK: 15 events in 4 streams, every hash chain intact') });
    const { code, stdout } = await compareHeads();
    expect(code).toBe(1);
    expect(stdout).toContain('TRUNCATED stream member-a: sealed at revision 4, its last stored revision is 3');
  });

  it('catches a whole deleted stream as vanished (verify cannot)', async () => {
    // The journal still holds b's lines, so verify's journal check objects too; a careful owner
    // deletes them as well, and then only the seal remembers b.
    await asOwner((tx) => tx.none(`DELETE FROM ul_events WHERE stream_id = 'member-b'`));
    await database.db.none(`DELETE FROM ul_journal WHERE stream_id = 'member-b'; DELETE FROM ul_balances WHERE member_id = 'b'; DELETE FROM ul_statement WHERE member_id = 'b'`);
    expect(await verify()).toMatchObject({ code: 0, stdout: expect.stringContaining('OK: 11 events in 3 streams') });
    const { code, stdout } = await compareHeads();
    expect(code).toBe(1);
    expect(stdout).toContain('VANISHED stream member-b: sealed at revision 4');
  });

  it('catches a tail rewritten with fresh digests and hashes as rewritten (verify cannot)', async () => {
    await asOwner(async (tx) => {
      await tx.none(`UPDATE ul_events SET data = jsonb_set(data, '{day}', '"2026-12-01"') WHERE stream_id = 'member-c' AND stream_revision = 3`);
      await rechain(tx, 'member-c', 3);
    });
    expect(await verify()).toMatchObject({ code: 0, stdout: expect.stringContaining('every hash chain intact') });
    const { code, stdout } = await compareHeads();
    expect(code).toBe(1);
    expect(stdout).toMatch(/REWRITTEN stream member-c at or before revision 4: sealed hash [0-9a-f]{64}, stored hash [0-9a-f]{64}/);
  });

  it('refuses a seal file whose heads were edited to match the database', async () => {
    const { readFile, writeFile } = await import('node:fs/promises');
    const lines = (await readFile(sealFile, 'utf8')).trimEnd().split('\n');
    lines[1] = JSON.stringify({ ...(JSON.parse(lines[1]!) as object), revision: 3 });
    await writeFile(sealFile, `${lines.join('\n')}\n`);
    expect(await compareHeads()).toMatchObject({ code: 1, stdout: expect.stringContaining('SEAL FILE REFUSED: the heads give root') });
  });

  it('accepts streams that grew since the seal', async () => {
    await store.appendToStream('member-a', [checkIn('a', '2026-12-01')]);
    await store.appendToStream('member-d', [checkIn('d', '2026-12-01')]);
    expect(await compareHeads()).toMatchObject({ code: 0 });
  });
});
