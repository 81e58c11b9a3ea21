import { createTestDatabase, type TestDatabase } from '../../../test/support/database';
import { PostgresEventStore } from '../../eventstore/postgres/postgres-event-store';
import { catchUpProjection } from '../../projections';
import { OrgDirectory, orgsProjection } from '../../projections/orgs';
import { OrgAccess } from './org-access';
import { OrgService } from './org-service';

/**
 * A move rewrites the path of the whole subtree, and the path caches of another process (here: a
 * second store, service, access and directory over the same database, as a second instance of the
 * service has) stop serving the old path on their next lookup, through the tree's version.
 */

let database: TestDatabase;
let stores: PostgresEventStore[];
const meta = (commandId: string) => ({ commandId, actor: { type: 'admin', id: 'admin-p' } });

beforeAll(async () => {
  database = await createTestDatabase();
  stores = [new PostgresEventStore(database.db, { listen: false }), new PostgresEventStore(database.db, { listen: false })];
  const orgs = new OrgService(stores[0]!);
  for (const [orgId, parentId, level] of [
    ['p', null, 'province'],
    ['c1', 'p', 'city'],
    ['c2', 'p', 'city'],
    ['k1', 'c1', 'county'],
    ['u1', 'k1', 'grassroots'],
    ['u2', 'c1', 'grassroots'],
  ] as const) {
    await orgs.registerOrganisation({ orgId, name: orgId, parentId, level }, meta(`org:${orgId}`));
  }
});
afterAll(async () => {
  await Promise.all(stores.map((store) => store.close()));
  await database.drop();
});

it('moves a county with its unions: ul_orgs paths of the subtree change, and the other process’s caches follow', async () => {
  const [here, there] = stores.map((store) => new OrgService(store));
  const elsewhere = new OrgAccess(there!);
  const directory = new OrgDirectory(database.db);
  await catchUpProjection(stores[1]!, database.db, orgsProjection());
  // Warm both caches in the other process.
  expect(await elsewhere.pathOf('u1')).toEqual(['p', 'c1', 'k1', 'u1']);
  expect(await directory.pathOf('u1')).toEqual(['p', 'c1', 'k1', 'u1']);
  expect(await elsewhere.isWithin('u1', 'c1')).toBe(true);

  expect(await here!.move('k1', 'c2', 'admin-p', meta('move-1'))).toEqual({ moved: true, fromParentId: 'c1' });
  // The access check reads the tree's version from the event store: no projection involved.
  expect(await elsewhere.pathOf('u1')).toEqual(['p', 'c2', 'k1', 'u1']);
  expect(await elsewhere.isWithin('u1', 'c1')).toBe(false);
  expect(await elsewhere.pathOf('u2')).toEqual(['p', 'c1', 'u2']);

  await catchUpProjection(stores[1]!, database.db, orgsProjection());
  expect(await directory.pathOf('u1')).toEqual(['p', 'c2', 'k1', 'u1']);
  const rows = await database.db.any<{ org_id: string; parent_id: string; path: string[] }>('SELECT org_id, parent_id, path FROM ul_orgs ORDER BY org_id');
  expect(rows).toEqual([
    { org_id: 'c1', parent_id: 'p', path: ['p', 'c1'] },
    { org_id: 'c2', parent_id: 'p', path: ['p', 'c2'] },
    { org_id: 'k1', parent_id: 'c2', path: ['p', 'c2', 'k1'] },
    { org_id: 'p', parent_id: null, path: ['p'] },
    { org_id: 'u1', parent_id: 'k1', path: ['p', 'c2', 'k1', 'u1'] },
    { org_id: 'u2', parent_id: 'c1', path: ['p', 'c1', 'u2'] },
  ]);

  // A retried move (the same command id) is answered from the stream and moves nothing again.
  expect(await here!.move('k1', 'c2', 'admin-p', meta('move-1'))).toEqual({ moved: true, fromParentId: 'c1' });
  expect((await stores[0]!.readStream('orgtree')).length).toBe(1);
  // A move into the moved subtree is a cycle; under a unit of a lower level, refused too.
  await expect(here!.move('c2', 'k1', 'admin-p', meta('move-2'))).rejects.toMatchObject({ code: 'ORG.MOVE_CYCLE' });
  await expect(here!.move('c1', 'k1', 'admin-p', meta('move-5'))).rejects.toMatchObject({ code: 'ORG.PARENT_INVALID' });
  await expect(here!.move('p', 'c1', 'admin-p', meta('move-6'))).rejects.toMatchObject({ code: 'ORG.MOVE_INVALID' });
  await expect(here!.move('k1', 'u1', 'admin-p', meta('move-3'))).rejects.toMatchObject({ code: 'ORG.MOVE_CYCLE' });
  await expect(here!.move('u2', 'k1', 'admin-p', meta('move-4'))).resolves.toEqual({ moved: true, fromParentId: 'c1' });
});
