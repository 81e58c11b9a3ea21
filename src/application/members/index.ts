/** The members context's use cases: member commands and the roster import. */
export { MemberService, type MemberCommandResult } from './member-service';
export {
  checkMemberOrg,
  DEFAULT_MEMBER_CONCURRENCY,
  enrolCommandId,
  importMembers,
  MEMBER_COLUMNS,
  memberRowChecker,
  type MemberImportDeps,
  type MemberRow,
  type PiiSealer,
} from './member-import';
