import type { EventStore } from '../../eventstore/event-store';
import { decide, due, evolve, initialState, memberStream, type MemberCommand, type MemberEvent, type MemberState } from '../../domain/members';
import { schemaVersionOf } from '../../domain/shared';
import type { RuleBook } from '../earning';
import { CommandHandler, type CommandMeta, type CommandResult } from '../command-handler';

/** The member's commands through the one command handler, decided with the current earning rules. */
export type MemberCommandResult = CommandResult<MemberState>;

export class MemberService {
  private readonly handler: CommandHandler<MemberState, MemberEvent>;

  constructor(
    store: EventStore,
    private readonly rules: RuleBook,
    options: { clock?: () => Date; cacheEntries?: number } = {},
  ) {
    this.handler = new CommandHandler(
      store,
      // Expired holds are released before any command and recorded even when the command is refused:
      // the handler folds and stores `due` itself, so `decide` (which releases them too, for the pure
      // domain) finds nothing left to release. This keeps one append per accepted command, and no
      // extra read of the stream before every command to look for due releases.
      { name: 'member', initialState, evolve, due, schemaVersion: (event) => schemaVersionOf(event.data) },
      { ...(options.clock ? { clock: options.clock } : {}), ...(options.cacheEntries ? { cacheEntries: options.cacheEntries } : {}) },
    );
  }

  /** The member's state, brought up to date with the stream. */
  load(memberId: string): Promise<{ state: MemberState; revision: bigint }> {
    return this.handler.load(memberStream(memberId));
  }

  /**
   * A command that decides nothing, for a member nobody touches: the handler records the release
   * of every hold whose expiry has passed (`due`), and nothing when none has.
   */
  async releaseDueHolds(memberId: string, meta: CommandMeta): Promise<MemberCommandResult> {
    return this.handler.handle(memberStream(memberId), () => [], meta);
  }

  /**
   * `precondition` runs on the state the command is decided on, before the decider, and may
   * refuse by throwing: checks that need the member's state but are not the member's own rules
   * (a quiz's subtree) cost no second read of the stream.
   */
  async execute(
    memberId: string,
    command: MemberCommand,
    meta: CommandMeta,
    precondition?: (state: MemberState) => void | Promise<void>,
  ): Promise<MemberCommandResult> {
    return this.handler.handle(
      memberStream(memberId),
      async (state, now) => {
        await precondition?.(state);
        return decide(state, command, { now, rules: await this.rules.currentRules() });
      },
      meta,
    );
  }
}
