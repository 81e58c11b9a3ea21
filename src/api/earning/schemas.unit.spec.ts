import fc from 'fast-check';
import { CAP_PERIODS, DEFAULT_RULES, EARNING_ACTIONS, MAX_CAP, MAX_POINTS_PER_GRANT, validateRuleSetBody } from '../../domain/earning';
import { AppError } from '../common/errors';
import { parseBody } from '../common/validation';
import { publishRulesSchema } from './schemas';

/**
 * The API's earning-rules schema and the domain's own guard (validateRuleSetBody) must agree:
 * what the API lets through, the domain accepts (so every refusal comes with its path), and a
 * correct rule set the domain accepts is not refused by the API. The API is stricter in one way
 * only: unknown properties (a misspelt `maxCont`), which the domain ignores.
 */

function apiAccepts(body: unknown): boolean {
  try {
    parseBody(publishRulesSchema, body);
    return true;
  } catch (error) {
    if (!(error instanceof AppError) || error.code !== 'VALIDATION.FAILED') throw error;
    return false;
  }
}

function domainAccepts(body: unknown): boolean {
  try {
    validateRuleSetBody(body);
    return true;
  } catch (error) {
    if ((error as { code?: string }).code !== 'RULES.INVALID') throw error;
    return false;
  }
}

/** Values around every bound, and of the wrong kind now and then. */
const limitValue = (max: number) =>
  fc.oneof(
    { arbitrary: fc.integer({ min: 0, max }), weight: 6 },
    { arbitrary: fc.constantFrom(0, 1, max, max + 1, -1, 1.5, 2 ** 53), weight: 3 },
    { arbitrary: fc.constantFrom('5', null, true), weight: 1 },
  );
const cap = fc.record({ maxCount: limitValue(MAX_CAP), maxPoints: limitValue(MAX_CAP) }, { requiredKeys: [] });
const caps = fc.record(Object.fromEntries(CAP_PERIODS.map((period) => [period, cap])), { requiredKeys: [] });
const rule = fc.record({ points: limitValue(MAX_POINTS_PER_GRANT), caps }, { requiredKeys: ['points'] });
const rules = fc.record(Object.fromEntries(EARNING_ACTIONS.map((action) => [action, rule])), { requiredKeys: [...EARNING_ACTIONS] });
const streakBonus = fc.oneof(
  fc.constant(null),
  fc.record({ everyDays: fc.oneof(fc.integer({ min: 0, max: 400 }), fc.constantFrom(2, 366, 1, 367)), points: limitValue(MAX_POINTS_PER_GRANT) }),
);
const body = fc.record({ expectedVersion: fc.integer({ min: 1, max: 1000 }), rules, streakBonus }, { requiredKeys: ['expectedVersion', 'rules'] });

describe('publishRulesSchema and validateRuleSetBody', () => {
  it('accept and refuse the same rule sets when there are no unknown properties', () => {
    fc.assert(
      fc.property(body, (candidate) => {
        expect(apiAccepts(candidate)).toBe(domainAccepts(candidate));
      }),
      { numRuns: 1000 },
    );
  });

  it('agree on the default rules, and the API alone refuses what the domain would ignore', () => {
    expect(apiAccepts({ expectedVersion: 1, ...DEFAULT_RULES })).toBe(true);
    const misspelt = structuredClone(DEFAULT_RULES) as unknown as { rules: { checkin: { caps: { day: Record<string, number> } } } };
    misspelt.rules.checkin.caps.day = { maxCont: 1 };
    expect(domainAccepts(misspelt)).toBe(true); // The bug the schema closes: the cap silently vanishes.
    expect(apiAccepts({ expectedVersion: 1, ...misspelt })).toBe(false);
  });
});
