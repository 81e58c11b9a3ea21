import { createEventStore, MIGRATIONS } from './composition-root';
import { loadConfig } from './config/config';
import type { Database } from './infra/database';

describe('the composition root', () => {
  it('chooses the event store the configuration names, behind the upcasters', async () => {
    const unusedDb = {} as Database; // Neither adapter touches the database until used.
    const postgres = createEventStore(loadConfig({}), unusedDb, { listen: false });
    expect(postgres.adapterName).toBe('postgres');
    const kurrent = createEventStore(loadConfig({ EVENT_STORE: 'kurrentdb', KURRENTDB_URL: 'kurrentdb://127.0.0.1:1?tls=false' }), unusedDb);
    expect(kurrent.adapterName).toBe('kurrentdb');
    await kurrent.close();
  });

  it('collects every owner’s migrations once each, in version order', () => {
    const versions = MIGRATIONS.map((migration) => migration.version);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(new Set(versions).size).toBe(versions.length);
    expect(versions).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 20, 21, 22, 30, 31, 35, 40, 42, 50, 55, 56, 57, 58, 59, 60, 61, 65, 66, 70, 71, 72]);
  });
});
