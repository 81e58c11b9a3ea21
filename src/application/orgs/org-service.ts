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

/** The tree has four levels; a walk up it stops here whatever the data says. */
const MAX_TREE_DEPTH = 16;
const PATH_CACHE_MS = 60_000;
/** Organisations whose state is kept in memory: a province has a few thousand. */
const ORG_CACHE_ENTRIES = 100_000;

export class OrgService {
  private readonly handler: CommandHandler<OrgState, OrganisationEvent>;
  private readonly paths = new Map<string, { path: string[]; atMs: number }>();

  constructor(store: EventStore) {
    this.handler = new CommandHandler(store, { name: 'organisation', initialState: initialOrgState, evolve: evolveOrg }, { cacheEntries: ORG_CACHE_ENTRIES });
  }

  /** The organisation's state; unregistered (and so `registered: false`) for an unknown or malformed id. */
  async readOrg(orgId: string): Promise<OrgState> {
    if (!ORG_ID.test(orgId)) return initialOrgState;
    return (await this.handler.load(orgStream(orgId))).state;
  }

  /**
   * True when `orgId` is `ancestorId` or lies below it, read from the organisation streams (never
   * from a lagging read model), walking up at most MAX_TREE_DEPTH levels.
   */
  async isWithin(orgId: string, ancestorId: string): Promise<boolean> {
    return (await this.pathOf(orgId))?.includes(ancestorId) ?? false;
  }

  /**
   * The organisation and its ancestors (from itself up), null for an unknown one. Cached for
   * PATH_CACHE_MS: an organisation's place in the tree is fixed once registered today; when
   * moves arrive, a move is seen by other processes within that time.
   */
  async pathOf(orgId: string): Promise<string[] | null> {
    const cached = this.paths.get(orgId);
    if (cached && Date.now() - cached.atMs < PATH_CACHE_MS) return cached.path;
    const path: string[] = [];
    let current: string | null = orgId;
    for (let depth = 0; depth < MAX_TREE_DEPTH && current !== null; depth += 1) {
      const state = await this.readOrg(current);
      if (!state.registered) return null;
      path.push(current);
      current = state.parentId;
    }
    if (this.paths.size >= ORG_CACHE_ENTRIES) this.paths.delete(this.paths.keys().next().value!);
    this.paths.set(orgId, { path, atMs: Date.now() });
    return path;
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
