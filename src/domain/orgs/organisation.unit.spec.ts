import { deciderSpec } from '../../../test/support/given-when-then';
import {
  decideRegister,
  evolveOrg,
  initialOrgState,
  type OrganisationEvent,
  type OrgLevel,
  type OrgState,
  type RegisterOrganisation,
} from './organisation';

/** The context of a registration is the parent's state, folded from the parent's stream. */
const organisation = deciderSpec<OrgState, RegisterOrganisation, OrganisationEvent, OrgState | null>({
  initialState: initialOrgState,
  evolve: evolveOrg,
  decide: decideRegister,
});

const registered = (orgId: string, level: OrgLevel, parentId: string | null, name = `${orgId} union`): OrganisationEvent => ({
  type: 'OrganisationRegistered',
  data: { orgId, name, parentId, level },
});
const stateOf = (event: OrganisationEvent): OrgState => evolveOrg(initialOrgState, event);

const province = registered('js', 'province', null, 'Jiangsu Federation of Trade Unions');
const city = registered('js-nj', 'city', 'js');
const county = registered('js-nj-gl', 'county', 'js-nj');
const grassroots = registered('js-nj-gl-01', 'grassroots', 'js-nj-gl');

describe('decideRegister', () => {
  it('registers a province without a parent', () => {
    organisation
      .given([])
      .when({ orgId: 'js', name: 'Jiangsu Federation of Trade Unions', parentId: null, level: 'province' }, null)
      .then([province]);
  });

  it.each([
    ['a city under a province', 'city', province],
    ['a county under a city', 'county', city],
    ['a grassroots union under a county', 'grassroots', county],
    ['a grassroots union directly under a city', 'grassroots', city],
    ['a county directly under a province', 'county', province],
  ] as const)('registers %s', (_label, level, parent) => {
    organisation
      .given([])
      .when({ orgId: 'child', name: 'Child', parentId: parent.data.orgId, level }, stateOf(parent))
      .then([registered('child', level, parent.data.orgId, 'Child')]);
  });

  it('trims the name', () => {
    organisation.given([]).when({ orgId: 'js-nj', name: '  js-nj union \t', parentId: 'js', level: 'city' }, stateOf(province)).then([city]);
  });

  it('changes nothing when the same organisation is registered again with the same details', () => {
    organisation.given([grassroots]).when({ orgId: 'js-nj-gl-01', name: 'js-nj-gl-01 union ', parentId: 'js-nj-gl', level: 'grassroots' }, stateOf(county)).then([]);
    organisation.given([province]).when({ orgId: 'js', name: 'Jiangsu Federation of Trade Unions', parentId: null, level: 'province' }, null).then([]);
  });

  it.each([
    ['another name', { name: 'Renamed' }],
    ['another parent', { parentId: 'js-nj' }],
    ['another level', { level: 'county' as const }],
  ])('refuses the same organisation with %s as ORG.ALREADY_REGISTERED', (_label, change) => {
    organisation
      .given([grassroots])
      .when({ orgId: 'js-nj-gl-01', name: 'js-nj-gl-01 union', parentId: 'js-nj-gl', level: 'grassroots', ...change }, stateOf(county))
      .thenFails('ORG.ALREADY_REGISTERED');
  });

  it('refuses a province with a parent as ORG.PARENT_INVALID', () => {
    organisation.given([]).when({ orgId: 'js', name: 'Jiangsu', parentId: 'china', level: 'province' }, stateOf(province)).thenFails('ORG.PARENT_INVALID');
  });

  it.each([
    ['a city under a city', 'city', city],
    ['a city under a county', 'city', county],
    ['a county under a county', 'county', county],
    ['a grassroots union under a grassroots union', 'grassroots', grassroots],
    ['a city under a grassroots union', 'city', grassroots],
  ] as const)('refuses %s as ORG.PARENT_INVALID: levels only go down the tree', (_label, level, parent) => {
    organisation.given([]).when({ orgId: 'child', name: 'Child', parentId: parent.data.orgId, level }, stateOf(parent)).thenFails('ORG.PARENT_INVALID');
  });

  it('refuses a missing or unregistered parent below the province level as ORG.PARENT_UNKNOWN', () => {
    organisation.given([]).when({ orgId: 'js-nj', name: 'Nanjing', parentId: null, level: 'city' }, null).thenFails('ORG.PARENT_UNKNOWN');
    organisation.given([]).when({ orgId: 'js-nj', name: 'Nanjing', parentId: 'js', level: 'city' }, null).thenFails('ORG.PARENT_UNKNOWN');
    organisation.given([]).when({ orgId: 'js-nj', name: 'Nanjing', parentId: 'js', level: 'city' }, initialOrgState).thenFails('ORG.PARENT_UNKNOWN');
  });

  it.each(['', '-leading-dash', '_x', 'has space', 'a/b', 'a'.repeat(65), '中文'])('refuses the organisation id %p as ORG.ID_INVALID', (orgId) => {
    organisation.given([]).when({ orgId, name: 'X', parentId: null, level: 'province' }, null).thenFails('ORG.ID_INVALID');
  });

  it('accepts ids of 1 and 64 characters', () => {
    for (const orgId of ['a', `A${'b_-9'.repeat(15)}xyz`]) {
      expect(organisation.given([]).when({ orgId, name: 'X', parentId: null, level: 'province' }, null).result().events).toHaveLength(1);
    }
  });

  it.each(['', '   ', 'x'.repeat(101)])('refuses the name %p as ORG.NAME_INVALID', (name) => {
    organisation.given([]).when({ orgId: 'js', name, parentId: null, level: 'province' }, null).thenFails('ORG.NAME_INVALID');
  });

  it.each(['country', 'PROVINCE', ''])('refuses the level %p as ORG.LEVEL_INVALID', (level) => {
    organisation.given([]).when({ orgId: 'js', name: 'X', parentId: null, level: level as OrgLevel }, null).thenFails('ORG.LEVEL_INVALID');
  });
});
