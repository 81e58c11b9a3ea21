import type { EventStore } from '../../eventstore/event-store';
import {
  decideOrgChange,
  decideRegister,
  evolveOrg,
  initialOrgState,
  ORG_ID,
  orgStream,
  type OrganisationEvent,
  type OrgChangeCommand,
  type OrgChangeContext,
  type OrgState,
  type RegisterOrganisation,
} from '../../domain/orgs';
import { DomainError } from '../../domain/shared';
import { CommandHandler, type CommandMeta, type CommandResult, type DomainEvent } from '../command-handler';

/** Commands on the organisation tree, through the one command handler. */

export type RegisterOutcome = 'applied' | 'unchanged';

/** Organisations whose state is kept in memory: a province has a few thousand. */
const ORG_CACHE_ENTRIES = 100_000;
/** Levels of the union tree are four (province to grassroots); this bounds a walk up a corrupt tree. */
const MAX_TREE_DEPTH = 16;

/**
 * The stream every move of the tree is decided on (`orgtree`: no `org-` prefix, so no organisation
 * id can name it). Deciding moves on one stream serialises them: two moves that would make a cycle
 * together (A under B while B goes under A) cannot both pass the check, since the second is
 * decided again on the paths the first left. Its revision is also the tree's version, which path
 * caches in every process compare (OrgAccess).
 */
export const ORG_TREE_STREAM = 'orgtree';

interface TreeState {
  moves: number;
}

/** The tree stream's event: recorded in the commit of every OrganisationMoved. */
interface OrgTreeChanged extends DomainEvent {
  type: 'OrgTreeChanged';
  data: { orgId: string; fromParentId: string; toParentId: string; byAdminId: string };
}

export class OrgService {
  private readonly handler: CommandHandler<OrgState, OrganisationEvent>;
  private readonly tree: CommandHandler<TreeState, OrgTreeChanged>;

  constructor(private readonly store: EventStore) {
    this.handler = new CommandHandler(store, { name: 'organisation', initialState: initialOrgState, evolve: evolveOrg }, { cacheEntries: ORG_CACHE_ENTRIES });
    this.tree = new CommandHandler(store, { name: 'organisation tree', initialState: { moves: 0 }, evolve: (state) => ({ moves: state.moves + 1 }) }, { cacheEntries: 1 });
  }

  /** The tree's version: the revision of the tree stream ('-1' before any move); one read of one event. */
  async treeVersion(): Promise<string> {
    const [last] = await this.store.readStream(ORG_TREE_STREAM, { direction: 'backwards', maxCount: 1 });
    return last ? last.revision.toString() : '-1';
  }

  /** The org's ancestors from the root down, ending with it, read from the streams now (no cache); null when unknown. */
  async freshPathOf(orgId: string): Promise<string[] | null> {
    const path: string[] = [];
    let current: string | null = orgId;
    for (let depth = 0; current !== null; depth += 1) {
      if (depth >= MAX_TREE_DEPTH) throw new Error(`invariant violated: organisation ${orgId} is more than ${MAX_TREE_DEPTH} levels deep`);
      const state = await this.readOrg(current);
      if (!state.registered) return null;
      path.unshift(current);
      current = state.parentId;
    }
    return path;
  }

  /**
   * Renames, merges or closes an organisation, decided on its stream with the context the caller
   * read (counts of members and children). Moves go through `move`.
   */
  async change(orgId: string, command: Exclude<OrgChangeCommand, { type: 'MoveOrganisation' }>, ctx: OrgChangeContext, meta: CommandMeta): Promise<CommandResult<OrgState>> {
    if (!ORG_ID.test(orgId)) throw new DomainError('ORG.NOT_FOUND', 'no such organisation', 404);
    return this.handler.handle(orgStream(orgId), (state) => decideOrgChange(state, command, ctx), meta);
  }

  /**
   * Moves an organisation under another parent: decided on the tree stream (serialising moves;
   * see ORG_TREE_STREAM) with the paths read fresh from the streams at each attempt, and recorded
   * as OrganisationMoved on the organisation's stream in the same commit.
   */
  async move(orgId: string, toParentId: string, adminId: string, meta: CommandMeta): Promise<{ moved: boolean; fromParentId: string | null }> {
    if (!ORG_ID.test(orgId)) throw new DomainError('ORG.NOT_FOUND', 'no such organisation', 404);
    let decidedMove: OrganisationEvent[] = [];
    let fromParentId: string | null = null;
    const result = await this.tree.handle(
      ORG_TREE_STREAM,
      async () => {
        const state = await this.readOrg(orgId);
        fromParentId = state.parentId;
        const parentPath = ORG_ID.test(toParentId) ? await this.freshPathOf(toParentId) : null;
        const other = parentPath ? await this.readOrg(toParentId) : initialOrgState;
        decidedMove = decideOrgChange(state, { type: 'MoveOrganisation', toParentId, adminId }, { other, ...(parentPath ? { otherPath: parentPath } : {}) });
        return decidedMove.map((event) => {
          const { fromParentId: from, toParentId: to } = (event as Extract<OrganisationEvent, { type: 'OrganisationMoved' }>).data;
          return { type: 'OrgTreeChanged' as const, data: { orgId, fromParentId: from, toParentId: to, byAdminId: adminId } };
        });
      },
      meta,
      () => [{ streamId: orgStream(orgId), events: decidedMove }],
    );
    if (result.replayed) {
      const stored = result.events[0]?.data as { fromParentId?: string } | undefined;
      return { moved: result.events.length > 0, fromParentId: stored?.fromParentId ?? fromParentId };
    }
    return { moved: result.events.length > 0, fromParentId };
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
