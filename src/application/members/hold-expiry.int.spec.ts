import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database';
import { memberStream } from '../../domain/members';
import { DomainError } from '../../domain/shared';
import { PostgresEventStore } from '../../eventstore/postgres/postgres-event-store';
import { RuleBook } from '../earning';
import { MemberService } from './member-service';

/**
 * A hold whose time is up is released by whichever command comes next, and that release is
 * recorded even when the command itself is refused (the refused post of an expired hold was the
 * case that left the points held).
 */

const MINUTE = 60_000;
let database: TestDatabase;
let store: PostgresEventStore;
let service: MemberService;
let nowMs = Date.parse('2026-11-23T09:00:00+08:00');
const clock = (): Date => new Date(nowMs);
const meta = (commandId: string = randomUUID()) => ({ commandId, actor: { type: 'member', id: 'test' } });

beforeAll(async () => {
  database = await createTestDatabase();
  store = new PostgresEventStore(database.db, { listen: false });
  service = new MemberService(store, new RuleBook(store), { clock });
});
afterAll(async () => {
  await store.close();
  await database.drop();
});

async function activeMemberWithHold(memberId: string): Promise<void> {
  await service.execute(memberId, { type: 'EnrolMember', memberId, orgId: 'u-1', name: 'Li', idHmac: `hmac-${memberId}`, piiCipher: 'x' }, meta());
  await service.execute(memberId, { type: 'ActivateMember', name: 'Li' }, meta());
  await service.execute(memberId, { type: 'HoldPoints', holdId: 'h1', points: 30, purpose: 'mall', expiresAtMs: nowMs + 10 * MINUTE }, meta());
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DomainError) return error.code;
    throw error;
  }
  return '(accepted)';
}

describe('expired holds', () => {
  it('records the release of an expired hold even when the command that found it is refused', async () => {
    await activeMemberWithHold('m-expire-1');
    const before = (await service.load('m-expire-1')).state;
    expect({ available: before.available, held: before.held }).toEqual({ available: before.available, held: 30 });
    nowMs += 11 * MINUTE;

    const commandId = randomUUID();
    expect(await refusal(service.execute('m-expire-1', { type: 'PostHold', holdId: 'h1' }, meta(commandId)))).toBe('HOLD.ALREADY_EXPIRED');

    // Another process (a fresh handler, no cache) sees the release in the stream.
    const fresh = new MemberService(store, new RuleBook(store), { clock });
    const { state } = await fresh.load('m-expire-1');
    expect({ available: state.available, held: state.held, hold: state.holds.get('h1')?.status }).toEqual({ available: before.available + 30, held: 0, hold: 'expired' });
    const events = await store.readStream(memberStream('m-expire-1'));
    expect(events.filter((event) => event.type === 'HoldVoided').map((event) => (event.data as { reason: string }).reason)).toEqual(['expired']);

    // The refused command, retried with its id, is refused again: the release is not its result.
    expect(await refusal(fresh.execute('m-expire-1', { type: 'PostHold', holdId: 'h1' }, meta(commandId)))).toBe('HOLD.ALREADY_EXPIRED');
    expect((await store.readStream(memberStream('m-expire-1'))).length).toBe(events.length);
  });

  it('still releases within an accepted command, in the same append', async () => {
    await activeMemberWithHold('m-expire-2');
    nowMs += 11 * MINUTE;
    const result = await service.execute('m-expire-2', { type: 'SpendPoints', spendId: 's1', points: 1, purpose: 'mall' }, meta());
    expect(result.events.map((event) => event.type)).toEqual(['HoldVoided', 'PointsSpent']);
    expect(result.state.held).toBe(0);
  });
});
