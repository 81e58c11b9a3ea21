import type { EventStore } from '../../eventstore/event-store';
import {
  decideRegister,
  evolveOrg,
  initialOrgState,
  ORG_ID,
  orgStream,
  type OrganisationEvent,
  type OrgState,
  type RegisterOrganisation,
} from '../../domain/orgs';
import { CommandHandler, type CommandMeta } from '../command-handler';

/** Commands on the organisation tree, through the one command handler. */

export type RegisterOutcome = 'applied' | 'unchanged';

/** Organisations whose state is kept in memory: a province has a few thousand. */
const ORG_CACHE_ENTRIES = 100_000;

export class OrgService {
  private readonly handler: CommandHandler<OrgState, OrganisationEvent>;

  constructor(store: EventStore) {
    this.handler = new CommandHandler(store, { name: 'organisation', initialState: initialOrgState, evolve: evolveOrg }, { cacheEntries: ORG_CACHE_ENTRIES });
  }

  /** The organisation's state; unregistered (and so `registered: false`) for an unknown or malformed id. */
  async readOrg(orgId: string): Promise<OrgState> {
    if (!ORG_ID.test(orgId)) return initialOrgState;
    return (await this.handler.load(orgStream(orgId))).state;
  }

  /**
   * Registers an organisation under its parent. Throws a DomainError (ORG.*) when the decider
   * refuses; registering the same organisation again with the same details is 'unchanged'.
   */
  async registerOrganisation(command: RegisterOrganisation, meta: CommandMeta): Promise<RegisterOutcome> {
    // A malformed id is no stream name: let the decider refuse it (ORG.ID_INVALID) before any read.
    if (!ORG_ID.test(command.orgId)) decideRegister(initialOrgState, command, null);
    const result = await this.handler.handle(
      orgStream(command.orgId),
      async (state) => decideRegister(state, command, command.parentId === null ? null : await this.readOrg(command.parentId)),
      meta,
    );
    return result.events.length > 0 && !result.replayed ? 'applied' : 'unchanged';
  }
}
