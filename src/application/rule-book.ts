import { ConcurrencyError, EventIdConflictError } from '../eventstore/errors';
import type { Actor, EventStore } from '../eventstore/event-store';
import { DEFAULT_RULES, validateRuleSetBody, type RuleSet, type RuleSetBody } from '../domain/member/earning-rules';
import { DomainError } from '../domain/shared/errors';
import { deterministicEventId } from './event-ids';

export const RULES_STREAM = 'earning-rules';
export const RULES_EVENT = 'EarningRulesPublished';

/**
 * The versioned earning rules. Version n is revision n-1 of the `earning-rules` stream; the
 * defaults are stored as version 1 on first use, so even they can be pinned by a grant and
 * recomputed by an auditor. The current version is cached for `refreshMs`: a grant made by
 * another process within that window of a change uses the previous version and says so.
 */
export class RuleBook {
  private current: { rules: RuleSet; loadedAtMs: number } | undefined;
  private readonly versions = new Map<number, RuleSet>();

  constructor(
    private readonly store: EventStore,
    private readonly refreshMs = 2000,
  ) {}

  async currentRules(): Promise<RuleSet> {
    if (this.current && Date.now() - this.current.loadedAtMs < this.refreshMs) return this.current.rules;
    const [last] = await this.store.readStream(RULES_STREAM, { direction: 'backwards', maxCount: 1 });
    let rules: RuleSet;
    if (!last) {
      rules = await this.publishDefaults();
    } else {
      rules = { version: Number(last.revision) + 1, ...(last.data as unknown as RuleSetBody) };
    }
    this.versions.set(rules.version, rules);
    this.current = { rules, loadedAtMs: Date.now() };
    return rules;
  }

  async version(version: number): Promise<RuleSet> {
    const cached = this.versions.get(version);
    if (cached) return cached;
    if (!Number.isSafeInteger(version) || version < 1) throw new DomainError('RULES.VERSION_NOT_FOUND', `no rule version ${version}`, 404);
    const [event] = await this.store.readStream(RULES_STREAM, { fromRevision: BigInt(version - 1), maxCount: 1 });
    if (!event || event.revision !== BigInt(version - 1)) throw new DomainError('RULES.VERSION_NOT_FOUND', `no rule version ${version}`, 404);
    const rules = { version, ...(event.data as unknown as RuleSetBody) };
    this.versions.set(version, rules);
    return rules;
  }

  private async publishDefaults(): Promise<RuleSet> {
    try {
      await this.store.appendToStream(
        RULES_STREAM,
        [
          {
            eventId: deterministicEventId('earning-rules:defaults', 0),
            type: RULES_EVENT,
            data: DEFAULT_RULES as never,
            metadata: { occurredAt: new Date().toISOString(), actor: { type: 'system', id: 'defaults' } },
          },
        ],
        { expectedRevision: 'no_stream' },
      );
    } catch (error) {
      // Another caller stored the defaults (or an admin published) first: either way, read it back.
      // A racing copy of the defaults has the same event id but another occurredAt, hence the id conflict.
      if (!(error instanceof ConcurrencyError) && !(error instanceof EventIdConflictError)) throw error;
    }
    const [first] = await this.store.readStream(RULES_STREAM, { direction: 'backwards', maxCount: 1 });
    if (!first) throw new Error('earning rules are still missing after publishing the defaults');
    return { version: Number(first.revision) + 1, ...(first.data as unknown as RuleSetBody) };
  }

  /** Publishes a new version; `expectedVersion` guards against overwriting a change one has not seen. */
  async publish(body: unknown, expectedVersion: number, actor: Actor, commandId: string): Promise<RuleSet> {
    const checked = validateRuleSetBody(body);
    const current = await this.currentRules();
    if (expectedVersion !== current.version) {
      throw new DomainError('RULES.VERSION_CONFLICT', `the rules are at version ${current.version}, not ${expectedVersion}`, 409, {
        currentVersion: current.version,
      });
    }
    try {
      const result = await this.store.appendToStream(
        RULES_STREAM,
        [
          {
            eventId: deterministicEventId(commandId, 0),
            type: RULES_EVENT,
            data: checked as never,
            metadata: { occurredAt: new Date().toISOString(), actor, commandId },
          },
        ],
        { expectedRevision: BigInt(expectedVersion - 1) },
      );
      const rules = { version: Number(result.nextExpectedRevision) + 1, ...checked };
      this.versions.set(rules.version, rules);
      this.current = { rules, loadedAtMs: Date.now() };
      return rules;
    } catch (error) {
      if (error instanceof ConcurrencyError) {
        this.current = undefined;
        throw new DomainError('RULES.VERSION_CONFLICT', 'the rules changed meanwhile; reload and retry', 409);
      }
      throw error;
    }
  }
}
