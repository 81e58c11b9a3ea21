/** The members context: enrolment from the roster, activation, earning, holds and spending of points. */
export { accounts, evolve, fold, initialState, memberStream, type MemberEvent, type MemberState, type PointsGrantedData } from './member';
export { ACTIVATION_INSURANCE, MAX_POINTS_PER_SPEND, decide, due, releaseExpiredHolds, type Context, type MemberCommand } from './member-commands';
export { checkNationalId, checkPhone, maskNationalId, maskPhone, normaliseNationalId, normalisePhone, type CheckResult } from './national-id';
