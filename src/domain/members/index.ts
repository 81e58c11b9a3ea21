/** The members context: enrolment from the roster, activation (and its insurance grant), earning, holds and spending of points. */
export { accounts, evolve, fold, initialState, memberStream, type InsuranceGrant, type InsuranceGrantedData, type MemberEvent, type MemberState, type PointsGrantedData } from './member';
export { ACTIVATION_INSURANCE, MAX_INSURANCE_REASON_LENGTH, MAX_POINTS_PER_SPEND, decide, due, enrol, releaseExpiredHolds, type Context, type MemberCommand } from './member-commands';
export { checkNationalId, checkPhone, maskNationalId, maskPhone, nationalIdCheckChar, normaliseNationalId, normalisePhone, type CheckResult } from './national-id';
export { MAX_LIFECYCLE_REASON_LENGTH, decideLifecycle, type LifecycleCommand, type UnitFacts } from './member-lifecycle';
export { joinStream, decideJoin, evolveJoin, initialJoinState, type JoinCommand, type JoinEvent, type JoinState } from './join-application';
