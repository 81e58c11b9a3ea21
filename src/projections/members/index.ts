/** The members context's read models: members by union (ul_members), names, evaluations. */
export { MEMBERS_PROJECTION, membersProjection } from './members-projection';
export { memberEvaluations, memberNames, membersByIds } from './queries';
export { MEMBERS_MIGRATIONS } from './schema';
export { maskName, searchMembers, MEMBER_SEARCH_MAX, type MemberSearchHit } from './search';
