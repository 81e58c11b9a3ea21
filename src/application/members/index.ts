/** The members context's use cases: member commands and the roster import. */
export { MemberService, type MemberCommandResult } from './member-service';
export { MERGE_MEMBERS_MAX, MemberLifecycle, type JoinApplicationInput, type MemberLifecycleDeps } from './member-lifecycle';
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
