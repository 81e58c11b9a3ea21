import { createHash } from 'node:crypto';
import { enrolCommandId } from '../../src/application/members';
import { deterministicEventId } from '../../src/application/event-ids';
import type { MemberService } from '../../src/application/members';
import type { OrgService } from '../../src/application/orgs';
import { decide, fold, initialState, memberStream, type MemberCommand, type MemberEvent } from '../../src/domain/members';
import type { RuleSet } from '../../src/domain/earning';
import type { OrgLevel } from '../../src/domain/orgs';
import { schemaVersionOf } from '../../src/domain/shared';
import { canonicalJson, chainHash, GENESIS_HASH } from '../../src/eventstore/canonical';
import type { Actor, EventToAppend } from '../../src/eventstore/event-store';
import { prepareAppend, type PreparedEvent } from '../../src/eventstore/validation';
import type { Database } from '../../src/infra/database';
import { msSince } from './stats';

/**
 * The check-in benchmark's fixture: a four-level union tree registered through OrgService, and
 * members written straight into ul_events by a bulk loader that stores exactly what the real
 * command path would (roster import's enrolment, then POST /v1/activation):
 *
 *   member-<id> r0  MemberEnrolled            (commandId enrolCommandId(...), actor the loader)
 *   member-<id> r1  MemberActivated           ┐ one append, commandId `<sub>:<key>`,
 *   member-<id> r2  PointsGranted (activation) │ actor { type: 'member', id: <sub> }
 *   member-<id> r3  InsuranceGrantRequested   ┘
 *
 * The events come from the domain's own decide() with the published rules, the event ids from
 * deterministicEventId, the JSON, digests and validation from the event store's prepareAppend,
 * and the hash chain from canonical.ts, so `union-ledger verify` passes on the result (at speed
 * through a template checked against that path: MemberTemplate). Rows go in
 * with multi-row INSERTs (one statement = one transaction; transaction_id = pg_current_xact_id()
 * of that statement, as ul_append stores it for a new stream). Personal data is faked: the idHmac
 * is a hash of the member's index and piiCipher a sealed-looking string of the real length.
 */

export interface OrgTree {
  province: string;
  cities: string[];
  counties: string[];
  unions: string[];
  /** Ancestors from the province down to the union itself. */
  pathOf(unionId: string): string[];
}

export function planTree(cities: number, counties: number, unions: number): OrgTree {
  const province = 'gd';
  const cityIds = Array.from({ length: cities }, (_, index) => `${province}-c${String(index + 1).padStart(2, '0')}`);
  const countyIds = Array.from({ length: counties }, (_, index) => `${cityIds[index % cities]}-k${String(index + 1).padStart(3, '0')}`);
  const unionIds = Array.from({ length: unions }, (_, index) => `${countyIds[index % counties]}-u${String(index + 1).padStart(4, '0')}`);
  const parentOf = new Map<string, string>();
  countyIds.forEach((county, index) => parentOf.set(county, cityIds[index % cities]!));
  unionIds.forEach((union, index) => parentOf.set(union, countyIds[index % counties]!));
  cityIds.forEach((city) => parentOf.set(city, province));
  return {
    province,
    cities: cityIds,
    counties: countyIds,
    unions: unionIds,
    pathOf(unionId) {
      const path = [unionId];
      for (let parent = parentOf.get(unionId); parent; parent = parentOf.get(parent)) path.unshift(parent);
      return path;
    },
  };
}

/** Registers the tree level by level through the real OrgService, a few commands at a time. */
export async function registerTree(orgs: OrgService, tree: OrgTree): Promise<number> {
  const actor: Actor = { type: 'system', id: 'bench-checkin' };
  const levels: Array<[OrgLevel, string[], (id: string) => string | null]> = [
    ['province', [tree.province], () => null],
    ['city', tree.cities, () => tree.province],
    ['county', tree.counties, (id) => id.slice(0, id.lastIndexOf('-'))],
    ['grassroots', tree.unions, (id) => id.slice(0, id.lastIndexOf('-'))],
  ];
  let registered = 0;
  for (const [level, ids, parentOf] of levels) {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < ids.length) {
        const orgId = ids[next++]!;
        await orgs.registerOrganisation(
          { orgId, name: `${level} ${orgId}`, parentId: parentOf(orgId), level },
          { commandId: `register-org:${orgId}`, actor },
        );
        registered += 1;
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
  }
  return registered;
}

// ---------------------------------------------------------------------------------------------
// Members

export interface FixtureMember {
  index: number;
  memberId: string;
  orgId: string;
  name: string;
  idHmac: string;
  piiCipher: string;
}

const SURNAMES = '王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗';
const GIVEN = '伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国红梅';

function sha(text: string, algorithm: 'sha256' | 'sha512' = 'sha256'): Buffer {
  return createHash(algorithm).update(text, 'utf8').digest();
}

/** Member `index` of the fixture; deterministic, so the load can pick members without a table. */
export function fixtureMember(index: number, tree: OrgTree): FixtureMember {
  const idHmac = sha(`ul-bench-national-id:${index}`).toString('hex');
  const hex = sha(`ul-bench-member-id:${idHmac}`).toString('hex');
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  const memberId = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  const noise = Buffer.concat([sha(`ul-bench-pii:${index}`, 'sha512'), sha(`ul-bench-pii2:${index}`)]);
  // The shape and length of PiiVault.seal's output ({"idNumber":..., "phone":...} is ~50 bytes).
  const piiCipher = JSON.stringify({
    v: 1,
    iv: noise.subarray(0, 12).toString('base64'),
    tag: noise.subarray(12, 28).toString('base64'),
    ct: noise.subarray(28, 80).toString('base64'),
  });
  const name = SURNAMES[index % SURNAMES.length]! + GIVEN[Math.floor(index / SURNAMES.length) % GIVEN.length]! + GIVEN[(index * 7) % GIVEN.length]!;
  return { index, memberId, orgId: tree.unions[index % tree.unions.length]!, name, idHmac, piiCipher };
}

export const LOADER_ACTOR: Actor = { type: 'admin', id: 'bench-roster-import' };
/** The pre-activation token subject of member `index` (a WeChat session in production) and its Idempotency-Key. */
export const activationSubject = (index: number): string => `wx-bench-${index}`;
export const activationKey = (index: number): string => `activate-${index}`;

export interface FixtureClock {
  enrolledAt: Date;
  activatedAt: Date;
}

/** The two commands as MemberService would append them: same events, ids and metadata. */
export function memberAppends(member: FixtureMember, rules: RuleSet, clock: FixtureClock): Array<{ events: EventToAppend[]; expected: 'no_stream' | bigint }> {
  const enrol: MemberCommand = { type: 'EnrolMember', memberId: member.memberId, orgId: member.orgId, name: member.name, idHmac: member.idHmac, piiCipher: member.piiCipher };
  const enrolled = decide(initialState, enrol, { now: clock.enrolledAt, rules });
  const activated = decide(fold(enrolled), { type: 'ActivateMember', name: member.name }, { now: clock.activatedAt, rules });
  const subject = activationSubject(member.index);
  const toAppend = (events: MemberEvent[], commandId: string, actor: Actor, now: Date): EventToAppend[] =>
    events.map((event, index) => ({
      eventId: deterministicEventId(commandId, index),
      type: event.type,
      schemaVersion: schemaVersionOf(event.data),
      data: event.data as never,
      metadata: { occurredAt: now.toISOString(), commandId, actor },
    }));
  return [
    { events: toAppend(enrolled, enrolCommandId(member.idHmac, member.orgId, member.name), LOADER_ACTOR, clock.enrolledAt), expected: 'no_stream' },
    { events: toAppend(activated, `${subject}:${activationKey(member.index)}`, { type: 'member', id: subject }, clock.activatedAt), expected: 0n },
  ];
}

/** The prepared events (validated, normalised, digested by the event store's own code) of one member. */
export function preparedMember(member: FixtureMember, rules: RuleSet, clock: FixtureClock): PreparedEvent[][] {
  const streamId = memberStream(member.memberId);
  return memberAppends(member, rules, clock).map((append) => prepareAppend(streamId, append.events, append.expected).events);
}

// ---------------------------------------------------------------------------------------------
// Fast path: a template checked against the real path

/**
 * Building every member through decide() and prepareAppend() costs ~50 µs of CPU per event
 * (validation, JSON round trips, RFC 8785 canonicalisation), which is minutes at 1M members. All
 * members' events are the same except for a few per-member strings (ids, names, the sealed copy,
 * command ids, event ids), because they share the clock and the rules. So the loader builds one
 * prototype member through the real path, turns each event's canonical content, data and metadata
 * into a template with those strings as slots, and fills the slots per member. MemberTemplate
 * refuses to exist unless the filled templates of sample members equal the real path's output
 * byte for byte (canonical content, digest, data, metadata) - see `check` - so a change in the
 * domain cannot make the loader silently store something else.
 */
/**
 * The per-member strings, as they appear inside canonical JSON: ids, name, sealed copy, command ids,
 * the activation subject, then the event ids of each append (`eventsPerAppend` from the prototype).
 */
function slotValues(member: FixtureMember, eventsPerAppend: number[]): string[] {
  const enrolCommand = enrolCommandId(member.idHmac, member.orgId, member.name);
  const subject = activationSubject(member.index);
  const activationCommand = `${subject}:${activationKey(member.index)}`;
  const commands = [enrolCommand, activationCommand];
  const raw = [
    member.memberId,
    member.orgId,
    member.name,
    member.idHmac,
    member.piiCipher,
    enrolCommand,
    activationCommand,
    subject,
    ...eventsPerAppend.flatMap((count, append) => Array.from({ length: count }, (_, index) => deterministicEventId(commands[append]!, index))),
  ];
  return raw.map((value) => JSON.stringify(value).slice(1, -1));
}
/** Index of the first event id among the slots. */
const FIRST_EVENT_SLOT = 8;

type Part = string | number;

function compile(text: string, values: string[]): Part[] {
  // Longest first, so a value containing another (a command id holding the idHmac) is taken whole.
  const order = values.map((_value, slot) => slot).sort((a, b) => values[b]!.length - values[a]!.length);
  let parts: Part[] = [text];
  for (const slot of order) {
    parts = parts.flatMap((part) =>
      typeof part === 'number' ? [part] : part.split(values[slot]!).flatMap((piece, index) => (index === 0 ? [piece] : [slot, piece])),
    );
  }
  return parts.filter((part) => part !== '');
}

function fill(parts: Part[], values: string[]): string {
  let text = '';
  for (const part of parts) text += typeof part === 'number' ? values[part]! : part;
  return text;
}

interface EventTemplate {
  type: string;
  schemaVersion: number;
  append: number;
  content: Part[];
  data: Part[];
  metadata: Part[];
  eventSlot: number;
}

export interface TemplateRow {
  streamId: string;
  revision: number;
  eventId: string;
  type: string;
  schemaVersion: number;
  data: string;
  metadata: string;
  recordedMs: number;
  digest: Buffer;
  hash: Buffer;
}

/** Canonical forms of one prepared event, as contentDigest hashes them. */
function canonicalParts(streamId: string, event: PreparedEvent): { content: string; data: string; metadata: string } {
  return {
    content: canonicalJson({ data: event.data, eventId: event.eventId, metadata: event.metadata, schemaVersion: event.schemaVersion, streamId, type: event.type }),
    data: canonicalJson(event.data),
    metadata: canonicalJson(event.metadata),
  };
}

export class MemberTemplate {
  private readonly events: EventTemplate[];
  private readonly eventsPerAppend: number[];

  private constructor(
    private readonly tree: OrgTree,
    prototype: FixtureMember,
    private readonly rules: RuleSet,
    private readonly clock: FixtureClock,
  ) {
    const prepared = preparedMember(prototype, rules, clock);
    this.eventsPerAppend = prepared.map((events) => events.length);
    const values = slotValues(prototype, this.eventsPerAppend);
    const streamId = memberStream(prototype.memberId);
    this.events = prepared.flatMap((events, append) =>
      events.map((event) => {
        const canonical = canonicalParts(streamId, event);
        return {
          type: event.type,
          schemaVersion: event.schemaVersion,
          append,
          content: compile(canonical.content, values),
          data: compile(canonical.data, values),
          metadata: compile(canonical.metadata, values),
          eventSlot: 0, // set below
        };
      }),
    );
    this.events.forEach((event, revision) => (event.eventSlot = FIRST_EVENT_SLOT + revision));
  }

  /** Builds the template and checks it against the real path for `samples` members spread over [0, members). */
  static build(tree: OrgTree, rules: RuleSet, clock: FixtureClock, members: number, samples = 200): { template: MemberTemplate; checked: number } {
    const template = new MemberTemplate(tree, fixtureMember(Math.min(members - 1, 7), tree), rules, clock);
    const indexes = new Set<number>([0, members - 1]);
    for (let sample = 0; indexes.size < Math.min(members, samples) && sample < samples * 4; sample += 1) indexes.add(Math.floor(Math.random() * members));
    for (const index of indexes) template.check(index);
    return { template, checked: indexes.size };
  }

  /** Throws unless the template gives exactly what decide() + prepareAppend() give for member `index`. */
  check(index: number): void {
    const member = fixtureMember(index, this.tree);
    const streamId = memberStream(member.memberId);
    const real = preparedMember(member, this.rules, this.clock).flat();
    const rows = this.rows(index, 0);
    if (real.length !== rows.length) throw new Error(`template: member ${index} has ${real.length} events on the real path, ${rows.length} from the template`);
    real.forEach((event, revision) => {
      const row = rows[revision]!;
      const canonical = canonicalParts(streamId, event);
      const same =
        row.eventId === event.eventId &&
        row.type === event.type &&
        row.schemaVersion === event.schemaVersion &&
        row.digest.equals(event.digest) &&
        row.data === canonical.data &&
        row.metadata === canonical.metadata &&
        canonicalJson(JSON.parse(row.data)) === canonicalJson(event.data);
      if (!same) throw new Error(`template: member ${index} revision ${revision} (${event.type}) differs from decide() + prepareAppend()`);
    });
  }

  /** The rows of member `index`'s stream with the hash chain ul_append computes; each append one recorded_at (ms). */
  rows(index: number, recordedMs: number): TemplateRow[] {
    const member = fixtureMember(index, this.tree);
    const values = slotValues(member, this.eventsPerAppend);
    const streamId = memberStream(member.memberId);
    const rows: TemplateRow[] = [];
    let previous: Buffer = GENESIS_HASH;
    this.events.forEach((event, revision) => {
      const content = fill(event.content, values);
      const digest = createHash('sha256').update(content, 'utf8').digest();
      // The activation is a later append than the enrolment: one millisecond later.
      const atMs = recordedMs + event.append;
      const hash = chainHash(previous, BigInt(revision), BigInt(atMs), digest);
      rows.push({
        streamId,
        revision,
        eventId: values[event.eventSlot]!,
        type: event.type,
        schemaVersion: event.schemaVersion,
        data: fill(event.data, values),
        metadata: fill(event.metadata, values),
        recordedMs: atMs,
        digest,
        hash,
      });
      previous = hash;
    });
    return rows;
  }
}

const quote = (text: string): string => `'${text.replace(/'/g, "''")}'`;

/** VALUES text of one row; needs standard_conforming_strings (backslashes are literal). */
function valuesOf(row: TemplateRow): string {
  return (
    `(pg_current_xact_id(),${quote(row.streamId)},${row.revision},'${row.eventId}',${quote(row.type)},${row.schemaVersion},` +
    `${quote(row.data)}::jsonb,${quote(row.metadata)}::jsonb,'${new Date(row.recordedMs).toISOString()}'::timestamptz,` +
    `'\\x${row.digest.toString('hex')}'::bytea,'\\x${row.hash.toString('hex')}'::bytea)`
  );
}

const INSERT_EVENTS =
  'INSERT INTO ul_events (transaction_id, stream_id, stream_revision, event_id, event_type, schema_version, data, metadata, recorded_at, content_digest, hash) VALUES ';

export interface LoadReport {
  members: number;
  events: number;
  seconds: number;
  /** Seconds the loader's JavaScript spent building rows (templates, digests, hash chains, SQL text). */
  generateSeconds: number;
}

/**
 * Loads members [from, to) in chunks of `chunk` members, one multi-row INSERT statement per chunk,
 * with up to two statements in flight while the next chunk is built.
 */
export async function loadMembers(
  db: Database,
  template: MemberTemplate,
  options: { from: number; to: number; chunk: number; onProgress?(members: number, events: number): void },
): Promise<LoadReport> {
  const started = process.hrtime.bigint();
  let generateMs = 0;
  let events = 0;
  let members = 0;
  const inFlight = new Set<Promise<void>>();
  for (let start = options.from; start < options.to; start += options.chunk) {
    const end = Math.min(options.to, start + options.chunk);
    const t0 = process.hrtime.bigint();
    const nowMs = Date.now();
    const values: string[] = [];
    for (let index = start; index < end; index += 1) for (const row of template.rows(index, nowMs)) values.push(valuesOf(row));
    const sql = INSERT_EVENTS + values.join(',');
    const rowCount = values.length;
    generateMs += msSince(t0);
    while (inFlight.size >= 2) await Promise.race(inFlight);
    const count = end - start;
    const insert: Promise<void> = db.none(sql).then(() => {
      inFlight.delete(insert);
      events += rowCount;
      members += count;
      options.onProgress?.(members, events);
    });
    // Errors surface through Promise.all below; keep the set from holding a rejected promise unobserved.
    insert.catch(() => undefined);
    inFlight.add(insert);
  }
  await Promise.all(inFlight);
  return { members, events, seconds: msSince(started) / 1000, generateSeconds: generateMs / 1000 };
}

// ---------------------------------------------------------------------------------------------
// Faithfulness check

export interface CommandPathComparison {
  members: number;
  events: number;
  mismatches: string[];
}

/**
 * Writes members [0, count) through the real MemberService (with its clock pinned to the
 * fixture's) and compares what it stored with what the loader builds for the same members:
 * event ids, types, schema versions, data, metadata and content digests must be identical. The
 * loader then starts at `count`. Only hashes differ (their recorded_at comes from the server).
 */
export async function compareWithCommandPath(
  db: Database,
  service: { members: MemberService; setNow(now: Date): void },
  tree: OrgTree,
  rules: RuleSet,
  clock: FixtureClock,
  count: number,
): Promise<CommandPathComparison> {
  const mismatches: string[] = [];
  let events = 0;
  for (let index = 0; index < count; index += 1) {
    const member = fixtureMember(index, tree);
    service.setNow(clock.enrolledAt);
    await service.members.execute(
      member.memberId,
      { type: 'EnrolMember', memberId: member.memberId, orgId: member.orgId, name: member.name, idHmac: member.idHmac, piiCipher: member.piiCipher },
      { commandId: enrolCommandId(member.idHmac, member.orgId, member.name), actor: LOADER_ACTOR },
    );
    service.setNow(clock.activatedAt);
    const subject = activationSubject(index);
    // What MembersController.activate passes for POST /v1/activation by `subject` with this Idempotency-Key.
    await service.members.execute(member.memberId, { type: 'ActivateMember', name: member.name }, {
      commandId: `${subject}:${activationKey(index)}`,
      actor: { type: 'member', id: subject },
    });
    const stored = await db.any<{ event_id: string; event_type: string; schema_version: number; data: unknown; metadata: unknown; content_digest: Buffer }>(
      'SELECT event_id, event_type, schema_version, data, metadata, content_digest FROM ul_events WHERE stream_id = $1 ORDER BY stream_revision',
      [memberStream(member.memberId)],
    );
    const loaded = preparedMember(member, rules, clock).flat();
    if (stored.length !== loaded.length) mismatches.push(`member ${index}: ${stored.length} stored events, loader builds ${loaded.length}`);
    loaded.forEach((event, revision) => {
      const row = stored[revision];
      events += 1;
      if (!row) return;
      const same =
        row.event_id === event.eventId &&
        row.event_type === event.type &&
        row.schema_version === event.schemaVersion &&
        canonicalJson(row.data) === canonicalJson(event.data) &&
        canonicalJson(row.metadata) === canonicalJson(event.metadata) &&
        row.content_digest.equals(event.digest);
      if (!same) mismatches.push(`member ${index} revision ${revision} (${event.type}) differs from the command path`);
    });
  }
  return { members: count, events, mismatches };
}
