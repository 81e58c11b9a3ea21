import { DomainError } from '../shared';
import { DEFAULT_RULES, validateRuleSetBody, type RuleSet, type RuleSetBody } from './earning-rules';

/**
 * The versioned earning rules as an aggregate (stream `earning-rules`): version n is the n-th
 * EarningRulesPublished event. The defaults are stored as version 1 on first use, so even they
 * can be pinned by a grant and recomputed by an auditor.
 */

export const RULES_STREAM = 'earning-rules';
export type EarningRulesEvent = { type: 'EarningRulesPublished'; data: RuleSetBody };

export interface RulesState {
  /** 0 before anything was published. */
  version: number;
  body: RuleSetBody | null;
}

export const initialRulesState: RulesState = { version: 0, body: null };

export function evolveRules(state: RulesState, event: EarningRulesEvent): RulesState {
  switch (event.type) {
    case 'EarningRulesPublished':
      return { version: state.version + 1, body: event.data };
    default: {
      const unknown: never = event.type;
      throw new Error(`unknown earning-rules event ${String(unknown)}`);
    }
  }
}

/** The rules a state holds; null before the first version. */
export function rulesOf(state: RulesState): RuleSet | null {
  return state.body ? { version: state.version, ...state.body } : null;
}

/** Stores the defaults as version 1 when nothing was published yet. */
export function publishDefaults(state: RulesState): EarningRulesEvent[] {
  return state.version === 0 ? [{ type: 'EarningRulesPublished', data: DEFAULT_RULES }] : [];
}

/** Publishes a new version; `expectedVersion` guards against overwriting a change one has not seen. */
export function publishRules(state: RulesState, body: unknown, expectedVersion: number): EarningRulesEvent[] {
  const checked = validateRuleSetBody(body);
  if (expectedVersion !== state.version) {
    throw new DomainError('RULES.VERSION_CONFLICT', `the rules are at version ${state.version}, not ${expectedVersion}`, 409, {
      currentVersion: state.version,
    });
  }
  return [{ type: 'EarningRulesPublished', data: checked }];
}
