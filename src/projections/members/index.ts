/** The members context's read models: members by union (ul_members), names, evaluations, transfers and join applications pending (ul_member_requests). */
export { MEMBERS_PROJECTION, membersProjection } from './members-projection';
export { LIFECYCLE_PAGE_MAX, MEMBER_NAMES_CACHED_MAX, MemberNames, memberEvaluations, memberNames, membersByIds, membersOfUnit, pendingRequests, unitMemberCount, type MemberRequestRow } from './queries';
export { MEMBERS_MIGRATIONS } from './schema';
export { maskName, searchMembers, MEMBER_SEARCH_MAX, type MemberSearchHit } from './search';
