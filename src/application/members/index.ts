/** The members context's use cases: member commands and the roster import. */
export { MemberService, type MemberCommandResult } from './member-service';
export { DEFAULT_MEMBER_CONCURRENCY, enrolCommandId, importMembers, MEMBER_COLUMNS, type MemberImportDeps, type PiiSealer } from './member-import';
