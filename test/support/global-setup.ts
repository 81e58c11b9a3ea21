import { resolveTestServers } from './servers';

/** Runs once per Jest run, in the parent process: workers inherit the environment set here. */
export default async function globalSetup(): Promise<void> {
  const servers = await resolveTestServers();
  process.env.TEST_POSTGRES_URL = servers.postgresUrl;
  process.env.TEST_REDIS_URL = servers.redisUrl;
  (globalThis as { __unionLedgerServers?: typeof servers }).__unionLedgerServers = servers;
  process.stdout.write(`\ntest servers: ${servers.describe.join('; ')}\n`);
}
