import type { Actor, EventStore } from '../../eventstore/event-store';
import {
  evolveRules,
  initialRulesState,
  publishDefaults,
  publishRules,
  rulesOf,
  RULES_STREAM,
  type EarningRulesEvent,
  type RuleSet,
  type RuleSetBody,
  type RulesState,
} from '../../domain/earning';
import { DomainError } from '../../domain/shared';
import { CommandHandler } from '../command-handler';

/** Versions the history lists at most (the newest). */
export const RULE_HISTORY_MAX = 500;

/**
 * The versioned earning rules (stream `earning-rules`) through the one command handler. The
 * current version is cached for `refreshMs`: a grant made by another process within that window
 * of a change uses the previous version and says so (every grant records its rule version).
 */
export class RuleBook {
  private readonly handler: CommandHandler<RulesState, EarningRulesEvent>;
  private current: { rules: RuleSet; loadedAtMs: number } | undefined;
  private readonly versions = new Map<number, RuleSet>();

  constructor(
    private readonly store: EventStore,
    private readonly refreshMs = 2000,
  ) {
    this.handler = new CommandHandler(store, { name: 'earning-rules', initialState: initialRulesState, evolve: evolveRules }, { cacheEntries: 1 });
  }

  async currentRules(): Promise<RuleSet> {
    if (this.current && Date.now() - this.current.loadedAtMs < this.refreshMs) return this.current.rules;
    let { state } = await this.handler.load(RULES_STREAM);
    if (state.version === 0) {
      // The defaults' command id is the same everywhere, so racing first uses store them once.
      ({ state } = await this.handler.handle(RULES_STREAM, publishDefaults, { commandId: 'earning-rules:defaults', actor: { type: 'system', id: 'defaults' } }));
    }
    return this.remember(state);
  }

  async version(version: number): Promise<RuleSet> {
    const cached = this.versions.get(version);
    if (cached) return cached;
    if (!Number.isSafeInteger(version) || version < 1) throw new DomainError('RULES.VERSION_NOT_FOUND', `no rule version ${version}`, 404);
    const [event] = await this.store.readStream(RULES_STREAM, { fromRevision: BigInt(version - 1), maxCount: 1 });
    if (!event || event.revision !== BigInt(version - 1)) throw new DomainError('RULES.VERSION_NOT_FOUND', `no rule version ${version}`, 404);
    const rules: RuleSet = { version, ...(event.data as unknown as RuleSetBody) };
    this.versions.set(version, rules);
    return rules;
  }

  /**
   * Every published version, newest first, with when and by whom (the console's version list and
   * diff). Each version is one event of the stream; a ledger publishes a few a year, so the list
   * is bounded by RULE_HISTORY_MAX and reads one page.
   */
  async history(limit = RULE_HISTORY_MAX): Promise<Array<{ version: number; publishedAt: string; publishedBy: string }>> {
    const bounded = Math.max(1, Math.min(limit, RULE_HISTORY_MAX));
    const events = await this.store.readStream(RULES_STREAM, { direction: 'backwards', maxCount: bounded });
    return events.map((event) => ({
      version: Number(event.revision) + 1,
      publishedAt: event.metadata.occurredAt,
      publishedBy: event.metadata.actor ? `${event.metadata.actor.type}:${event.metadata.actor.id}` : 'unknown',
    }));
  }

  /** Publishes a new version; `expectedVersion` guards against overwriting a change one has not seen. */
  async publish(body: unknown, expectedVersion: number, actor: Actor, commandId: string): Promise<RuleSet> {
    try {
      const { state } = await this.handler.handle(RULES_STREAM, (state) => publishRules(state, body, expectedVersion), { commandId, actor });
      return this.remember(state);
    } catch (error) {
      this.current = undefined; // Refused or contended: the next read looks at the stream again.
      throw error;
    }
  }

  private remember(state: RulesState): RuleSet {
    const rules = rulesOf(state);
    if (!rules) throw new Error('invariant violated: the earning rules are still missing after publishing the defaults');
    this.versions.set(rules.version, rules);
    this.current = { rules, loadedAtMs: Date.now() };
    return rules;
  }
}
