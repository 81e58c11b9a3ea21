import { ConcurrencyError, EventIdConflictError } from '../eventstore/errors';
import type { EventStore } from '../eventstore/event-store';
import {
  decideRegister,
  evolveOrg,
  initialOrgState,
  ORG_ID,
  orgStream,
  type OrganisationEvent,
  type OrgState,
  type RegisterOrganisation,
} from '../domain/org/organisation';
import { deterministicEventId } from './event-ids';
import type { CommandMeta } from './member-service';

/**
 * Commands on the organisation tree. An organisation stream holds one registration event, so a
 * command reads it and the parent's stream, decides, and appends with 'no_stream'.
 */

/** A concurrent registration of the same organisation is decided again on the new state, at most this often. */
const MAX_ATTEMPTS = 3;
/** An organisation stream holds one event today; reading a few more leaves room for later event types. */
const ORG_READ_MAX_EVENTS = 1000;

export type RegisterOutcome = 'applied' | 'unchanged';

export class OrgService {
  constructor(private readonly store: EventStore) {}

  /** The organisation's state; unregistered (and so `registered: false`) for an unknown or malformed id. */
  async readOrg(orgId: string): Promise<OrgState> {
    if (!ORG_ID.test(orgId)) return initialOrgState;
    const events = await this.store.readStream(orgStream(orgId), { maxCount: ORG_READ_MAX_EVENTS });
    return events.reduce((state, event) => evolveOrg(state, { type: event.type, data: event.data } as unknown as OrganisationEvent), initialOrgState);
  }

  /**
   * Registers an organisation under its parent. The event id comes from the command id, so a
   * retried command is answered from the store instead of being written twice. Throws a
   * DomainError (ORG.*) when the decider refuses.
   */
  async registerOrganisation(command: RegisterOrganisation, meta: CommandMeta): Promise<RegisterOutcome> {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt += 1) {
      const state = await this.readOrg(command.orgId);
      const parent = command.parentId === null ? null : await this.readOrg(command.parentId);
      const decided = decideRegister(state, command, parent);
      if (decided.length === 0) return 'unchanged';
      try {
        const result = await this.store.appendToStream(
          orgStream(command.orgId),
          decided.map((event, index) => ({
            eventId: deterministicEventId(meta.commandId, index),
            type: event.type,
            data: event.data as never,
            metadata: {
              occurredAt: new Date().toISOString(),
              commandId: meta.commandId,
              actor: meta.actor,
              ...(meta.correlationId ? { correlationId: meta.correlationId } : {}),
            },
          })),
          { expectedRevision: 'no_stream' },
        );
        return result.idempotentReplay ? 'unchanged' : 'applied';
      } catch (error) {
        // Registered meanwhile by someone else (or by the same command id with other details):
        // decide again on what is stored now, which answers 'unchanged' or ORG.ALREADY_REGISTERED.
        if (error instanceof ConcurrencyError || error instanceof EventIdConflictError) continue;
        throw error;
      }
    }
    throw new ConcurrencyError(orgStream(command.orgId), 'no_stream', `still contended after ${MAX_ATTEMPTS} attempts`);
  }
}
