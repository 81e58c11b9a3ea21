import type { TestServers } from './servers';

export default async function globalTeardown(): Promise<void> {
  const servers = (globalThis as { __unionLedgerServers?: TestServers }).__unionLedgerServers;
  for (const server of servers?.started ?? []) await server.stop();
}
