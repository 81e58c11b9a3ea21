import { ConfigError, loadConfig } from './config';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('configuration of the event store', () => {
  it('defaults to PostgreSQL', () => {
    expect(loadConfig({})).toMatchObject({ eventStore: 'postgres', kurrentDbUrl: undefined });
  });

  it('takes KurrentDB with its URL', () => {
    expect(loadConfig({ EVENT_STORE: 'kurrentdb', KURRENTDB_URL: 'kurrentdb://127.0.0.1:2113?tls=false' })).toMatchObject({
      eventStore: 'kurrentdb',
      kurrentDbUrl: 'kurrentdb://127.0.0.1:2113?tls=false',
    });
  });

  it('names KURRENTDB_URL when KurrentDB is asked for without it, or with a URL that is not one', () => {
    expect(problemsOf({ EVENT_STORE: 'kurrentdb' })).toEqual([expect.stringMatching(/^KURRENTDB_URL must be set when EVENT_STORE=kurrentdb/)]);
    expect(problemsOf({ EVENT_STORE: 'kurrentdb', KURRENTDB_URL: 'http://x' })).toEqual([expect.stringMatching(/^KURRENTDB_URL must use/)]);
    expect(problemsOf({ EVENT_STORE: 'mysql' })).toEqual(["EVENT_STORE must be postgres or kurrentdb (got 'mysql')"]);
  });
});
