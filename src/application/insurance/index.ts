/** The insurance context's use cases: the insurer port, and carrying out a member's insurance grant exactly once. */
export { EffectJobInvalidError, INSURANCE_ACTOR, InsuranceGrants, InsuranceNotAppliedError, insuranceOutcomeCommandId, type EffectRef, type GrantOutcome, type InsuranceGrantsDeps } from './insurance-grants';
export { InsurerError, type EnrolmentRequest, type InsurancePolicy, type InsurerAnswer, type InsurerPort } from './ports';
