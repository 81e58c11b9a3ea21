import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCliOn } from '../../../test/support/cli';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database';
import { waitForFeedEnd } from '../../../test/support/feed';
import { testTimeout } from '../../../test/support/wait-for';
import { createEventStore } from '../../composition-root';
import { loadConfig } from '../../config/config';
import { posting, POSTINGS_SCHEMA_VERSION } from '../../domain/shared';
import type { EventStore, JsonObject } from '../../eventstore/event-store';

jest.setTimeout(testTimeout(4));

/**
 * The export an outsider checks with sha256sum, jq and the Python script it carries (the script
 * is docs/audit/check_export.py, the corrected recipe of docs/EVENT-HASH-CHAIN.md). The ledger
 * holds the events of test/fixtures/ledger-v1-events.json (twelve kinds, stored by the code of the
 * time, schema version 1 postings) and events whose data holds what trips a hand-made
 * canonicaliser: integers of 1e21 and more (PostgreSQL returns them in full), 1e-7, doubles at the
 * edge, keys outside the Basic Multilingual Plane, separators and control characters in strings.
 */

interface FixtureEvent {
  global_position: string;
  transaction_id: string;
  stream_id: string;
  stream_revision: string;
  event_id: string;
  event_type: string;
  schema_version: number;
  data: unknown;
  metadata: unknown;
  recorded_at: string;
  content_digest: string;
  hash: string;
}

const fixture = JSON.parse(readFileSync(path.join(__dirname, '../../../test/fixtures/ledger-v1-events.json'), 'utf8')) as { events: FixtureEvent[] };

let database: TestDatabase;
let store: EventStore;
let directory: string;

function run(command: string, args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 60_000 });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The fixture's rows as stored then, renumbered sort keys aside (as in ledger-v1.int.spec.ts). */
async function insertFixtureEvents(): Promise<void> {
  const xids = [...new Set(fixture.events.map((event) => BigInt(event.transaction_id)))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const event of fixture.events) {
    await database.db.none(
      `INSERT INTO ul_events (global_position, transaction_id, stream_id, stream_revision, event_id, event_type, schema_version,
                              data, metadata, recorded_at, content_digest, hash)
       OVERRIDING SYSTEM VALUE
       VALUES ($1, $2::text::xid8, $3, $4, $5, $6, $7, $8, $9, $10, decode($11, 'hex'), decode($12, 'hex'))`,
      [
        event.global_position,
        (3n + BigInt(xids.indexOf(BigInt(event.transaction_id)))).toString(),
        event.stream_id,
        event.stream_revision,
        event.event_id,
        event.event_type,
        event.schema_version,
        JSON.stringify(event.data),
        JSON.stringify(event.metadata),
        event.recorded_at,
        event.content_digest,
        event.hash,
      ],
    );
  }
  await database.db.one("SELECT setval(pg_get_serial_sequence('ul_events', 'global_position'), (SELECT max(global_position) FROM ul_events))");
}

const awkward = {
  big: 1e21,
  bigger: Number('123456789012345678901234'), // stored as numeric, returned in full as 24 digits
  huge: 1.5e300,
  tiny: 1e-7,
  small: 0.000001,
  sum: 0.1 + 0.2,
  maxSafe: 2 ** 53,
  negative: -1e21,
  denormal: 5e-324,
  '\u{1F600}': 'a key outside the BMP, sorted by its UTF-16 surrogates before U+FF5E',
  '\uff5e': 'a BMP key that code point order puts after U+1F600',
  text: 'line\u2028separator, tab\t, NUL-free control \u0001, quote ", backslash \\, 工会 and \u{1F3C5}',
  nested: [{ z: 1, a: [1e22, -0.5] }, null, true, 'x'],
};

beforeEach(async () => {
  database = await createTestDatabase();
  store = createEventStore(loadConfig({}), database.db, { listen: false });
  directory = await mkdtemp(path.join(tmpdir(), 'ul-export-'));
  await insertFixtureEvents();
  await store.appendToStream('edge-1', [
    { eventId: randomUUID(), type: 'AwkwardNumbers', data: awkward as unknown as JsonObject, metadata: { occurredAt: new Date().toISOString(), '\u{1F511}': 1e21 } },
    {
      eventId: randomUUID(),
      type: 'ValueMoved',
      schemaVersion: POSTINGS_SCHEMA_VERSION,
      data: { postings: [posting('fund:dues', 'budget:x', 1_000_000, 'CNY_FEN'), posting('budget:x', 'wallet:m1', 2_500, 'CNY_FEN')] } as unknown as JsonObject,
      metadata: { occurredAt: new Date().toISOString() },
    },
  ]);
  await waitForFeedEnd(database.db);
});

afterEach(async () => {
  await store.close();
  await database.drop();
  await rm(directory, { recursive: true, force: true });
});

describe('union-ledger audit export', () => {
  it('writes what sha256sum, jq and the carried script check, every event kind and awkward number included', async () => {
    expect((await runCliOn(database, 'audit', 'seal', '--out', path.join(directory, '..', `${path.basename(directory)}.seal`))).code).toBe(0);
    await store.appendToStream('edge-2', [{ eventId: randomUUID(), type: 'AfterTheSeal', data: { n: 1e21 }, metadata: { occurredAt: new Date().toISOString() } }]);
    await waitForFeedEnd(database.db);
    const out = path.join(directory, 'export');

    const exported = await runCliOn(database, 'audit', 'export', '--to', out);
    expect(exported.code).toBe(0);
    const total = fixture.events.length + 4; // two edge events, the seal, one after it
    expect(exported.stdout).toContain(`exported ${total} events`);
    expect(exported.stdout).toContain('seal #1 at position');

    expect(run('sha256sum', ['-c', 'SHA256SUMS'], out)).toMatchObject({ status: 0 });
    const checked = run('python3', ['check_export.py', '.'], out);
    expect(checked.stderr).toBe('');
    expect(checked.stdout).toMatch(new RegExp(`^OK: ${total} events, \\d+ streams; trial balance CNY_FEN 0, POINTS 0 over \\d+ accounts`, 'm'));
    const balances = run('python3', ['check_export.py', '.', '--balances'], out).stdout;
    expect(balances).toContain('wallet:m1\tCNY_FEN\t2500\n');
    expect(run('jq', ['-c', 'select(.streamId == "edge-1") | .type', 'events.ndjson'], out).stdout).toBe('"AwkwardNumbers"\n"ValueMoved"\n');
    // The twelve kinds of the fixture are all in the file.
    const kinds = new Set(run('jq', ['-r', '.type', 'events.ndjson'], out).stdout.trim().split('\n'));
    for (const kind of new Set(fixture.events.map((event) => event.event_type))) expect(kinds).toContain(kind);
    expect(JSON.parse(await readFile(path.join(out, 'manifest.json'), 'utf8'))).toMatchObject({ format: 'union-ledger-export/1', events: total, seal: { sealNumber: 1 } });
  });

  it('lets the script catch an edited event even when the outsider re-hashes the files', async () => {
    const out = path.join(directory, 'export');
    expect((await runCliOn(database, 'audit', 'export', '--to', out)).code).toBe(0);
    const file = path.join(out, 'events.ndjson');
    const lines = (await readFile(file, 'utf8')).split('\n');
    const index = lines.findIndex((line) => line.includes('AwkwardNumbers'));
    lines[index] = lines[index]!.replace('"tiny":1e-7', '"tiny":2e-7');
    await writeFile(file, lines.join('\n'));
    expect(run('sha256sum', ['--quiet', '-c', 'SHA256SUMS'], out)).toMatchObject({ status: 1, stdout: expect.stringContaining('events.ndjson: FAILED') });
    const checked = run('python3', ['check_export.py', '.'], out);
    expect(checked.status).toBe(1);
    expect(checked.stdout).toContain('PROBLEM: file events.ndjson does not match its SHA-256 in manifest.json');
    expect(checked.stdout).toContain('PROBLEM: edge-1 revision 0');
    expect(checked.stdout).toContain('content does not give its digest');
  });

  it('exports a range by global positions, its chains anchored outside it', async () => {
    const positions = await database.db.map<string>('SELECT global_position::text AS p FROM ul_events ORDER BY transaction_id, global_position', [], (row: { p: string }) => row.p);
    const out = path.join(directory, 'part');
    const exported = await runCliOn(database, 'audit', 'export', '--to', out, '--from', positions[10]!, '--until', positions[20]!);
    expect(exported).toMatchObject({ code: 0, stdout: expect.stringContaining('exported 11 events') });
    const checked = run('python3', ['check_export.py', '.'], out);
    expect(checked.stdout).toMatch(/^OK: 11 events, \d+ streams \(\d+ start mid-stream/m);
    expect(await runCliOn(database, 'audit', 'export', '--to', out)).toMatchObject({ code: 2 }); // not empty
  });

  it("runs the docs' by-hand recipe (psql, Python, sha256sum) to each awkward event's stored digest", async () => {
    const doc = readFileSync(path.join(__dirname, '../../../docs/EVENT-HASH-CHAIN.md'), 'utf8');
    const recipe = /One event, straight from the database:\n\n```sh\n([\s\S]+?)```/.exec(doc)?.[1];
    expect(recipe).toContain("stream_id = 'member-42' AND stream_revision = 3");
    for (const [streamId, revision] of [['edge-1', 0], ['edge-1', 1], ['member-m1', 2]] as const) {
      const script = recipe!.replace("stream_id = 'member-42' AND stream_revision = 3", `stream_id = '${streamId}' AND stream_revision = ${revision}`);
      const result = spawnSync('bash', ['-o', 'pipefail', '-c', script], { cwd: path.join(__dirname, '../../..'), encoding: 'utf8', env: { ...process.env, DATABASE_URL: database.url } });
      expect(result.stderr).toBe('');
      const stored = await database.db.one<{ digest: string }>("SELECT encode(content_digest, 'hex') AS digest FROM ul_events WHERE stream_id = $1 AND stream_revision = $2", [streamId, revision]);
      expect(result.stdout.split(' ')[0]).toBe(stored.digest);
    }
  });
});
