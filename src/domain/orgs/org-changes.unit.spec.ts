import { deciderSpec } from '../../../test/support/given-when-then';
import { decideOrgChange, evolveOrg, initialOrgState, type OrgChangeCommand, type OrgChangeContext, type OrganisationEvent, type OrgLevel, type OrgState } from '.';

const org = deciderSpec<OrgState, OrgChangeCommand, OrganisationEvent, OrgChangeContext>({ initialState: initialOrgState, evolve: evolveOrg, decide: decideOrgChange });

const registered = (orgId: string, level: OrgLevel, parentId: string | null): OrganisationEvent => ({
  type: 'OrganisationRegistered',
  data: { orgId, name: `${orgId} union`, parentId, level },
});
const stateOf = (...events: OrganisationEvent[]): OrgState => events.reduce(evolveOrg, initialOrgState);
const unitA = registered('u-a', 'grassroots', 'c-1');
const county = registered('k-1', 'county', 'c-1');
const city2 = stateOf(registered('c-2', 'city', 'p-1'));
const empty = { memberCount: 0, childCount: 0 };

describe('rename', () => {
  it('renames, naming the admin; the same name changes nothing', () => {
    org.given([unitA]).when({ type: 'RenameOrganisation', name: ' 新名称 ', adminId: 'admin' }, {}).then([
      { type: 'OrganisationRenamed', data: { orgId: 'u-a', name: '新名称', previousName: 'u-a union', byAdminId: 'admin' } },
    ]);
    org.given([unitA]).when({ type: 'RenameOrganisation', name: 'u-a union', adminId: 'admin' }, {}).then([]);
    org.given([]).when({ type: 'RenameOrganisation', name: 'x', adminId: 'admin' }, {}).thenFails('ORG.NOT_FOUND');
  });
});

describe('move', () => {
  const move = (toParentId: string): OrgChangeCommand => ({ type: 'MoveOrganisation', toParentId, adminId: 'admin' });

  it('moves a unit under another parent of a higher level', () => {
    org.given([unitA]).when(move('c-2'), { other: city2, otherPath: ['p-1', 'c-2'] }).then([
      { type: 'OrganisationMoved', data: { orgId: 'u-a', fromParentId: 'c-1', toParentId: 'c-2', byAdminId: 'admin' } },
    ]);
  });

  it('refuses a parent inside the moved subtree (a cycle), of a lower level, closed or unknown', () => {
    const underCounty = stateOf(registered('u-k', 'grassroots', 'k-1'));
    org.given([county]).when(move('u-k'), { other: underCounty, otherPath: ['p-1', 'c-1', 'k-1', 'u-k'] }).thenFails('ORG.MOVE_CYCLE');
    org.given([county]).when(move('k-1'), { other: stateOf(county), otherPath: ['p-1', 'c-1', 'k-1'] }).thenFails('ORG.MOVE_CYCLE');
    const otherGrassroots = stateOf(registered('u-b', 'grassroots', 'c-1'));
    org.given([unitA]).when(move('u-b'), { other: otherGrassroots, otherPath: ['p-1', 'c-1', 'u-b'] }).thenFails('ORG.PARENT_INVALID');
    const closedCity = stateOf(registered('c-3', 'city', 'p-1'), { type: 'OrganisationClosed', data: { orgId: 'c-3', reason: 'x', byAdminId: 'a' } });
    org.given([unitA]).when(move('c-3'), { other: closedCity, otherPath: ['p-1', 'c-3'] }).thenFails('ORG.CLOSED');
    org.given([unitA]).when(move('c-9'), {}).thenFails('ORG.PARENT_UNKNOWN');
    org.given([registered('p-1', 'province', null)]).when(move('p-2'), {}).thenFails('ORG.MOVE_INVALID');
  });

  it('changes nothing when the parent is already the one asked for', () => {
    org.given([unitA]).when(move('c-1'), {}).then([]);
  });
});

describe('merge and close', () => {
  const closeCommand: OrgChangeCommand = { type: 'CloseOrganisation', reason: '撤销', adminId: 'admin' };

  it('refuses to close a unit that still has members (ORG.HAS_MEMBERS) or open units under it', () => {
    org.given([unitA]).when(closeCommand, { memberCount: 3, childCount: 0 }).thenFails('ORG.HAS_MEMBERS', { memberCount: 3 });
    org.given([county]).when(closeCommand, { memberCount: 0, childCount: 2 }).thenFails('ORG.HAS_CHILDREN');
  });

  it('closes an empty unit once', () => {
    const closed: OrganisationEvent = { type: 'OrganisationClosed', data: { orgId: 'u-a', reason: '撤销', byAdminId: 'admin' } };
    org.given([unitA]).when(closeCommand, empty).then([closed]);
    org.given([unitA, closed]).when(closeCommand, empty).thenFails('ORG.CLOSED');
    org.given([unitA, closed]).when({ type: 'RenameOrganisation', name: 'x', adminId: 'admin' }, {}).thenFails('ORG.CLOSED');
  });

  it('records a merge into a unit of the same level once its members are gone; a retry changes nothing', () => {
    const into = stateOf(registered('u-b', 'grassroots', 'c-1'));
    const merge: OrgChangeCommand = { type: 'MergeOrganisation', intoOrgId: 'u-b', adminId: 'admin' };
    const merged: OrganisationEvent = { type: 'OrganisationMerged', data: { orgId: 'u-a', intoOrgId: 'u-b', byAdminId: 'admin' } };
    org.given([unitA]).when(merge, { other: into, ...empty }).then([merged]);
    org.given([unitA, merged]).when(merge, { other: into, ...empty }).then([]);
    org.given([unitA]).when(merge, { other: into, memberCount: 1, childCount: 0 }).thenFails('ORG.HAS_MEMBERS');
    org.given([unitA]).when(merge, { other: city2, ...empty }).thenFails('ORG.MERGE_INVALID');
    org.given([unitA]).when({ ...merge, intoOrgId: 'u-a' } as OrgChangeCommand, { other: stateOf(unitA), ...empty }).thenFails('ORG.MERGE_INVALID');
    org.given([unitA]).when(merge, { ...empty }).thenFails('ORG.MERGE_TARGET_UNKNOWN');
  });
});
