import Redis from 'ioredis';
import { UnionLedger } from '../../src/composition-root';
import { loadConfig } from '../../src/config/config';
import { closeDatabase, connectDatabase } from '../../src/infra/database';
import { PaymentGatewayHttpClient } from '../../src/infra/payment-gateway';
import { startPayoutWorker } from '../../src/workers/payouts';

/**
 * A payouts worker in a process of its own, for the test that kills it with SIGKILL in the middle
 * of its jobs. Configured by the environment the test passes; prints "ready" once the worker runs
 * and "done <payoutId> <outcome>" for each job it finishes.
 */
async function main(): Promise<void> {
  const env = (name: string): string => {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is not set`);
    return value;
  };
  const db = connectDatabase({ url: env('UL_CHILD_DATABASE_URL'), poolMax: 8, applicationName: 'ul-test-payout-child' });
  const ledger = new UnionLedger({
    config: loadConfig({ DATABASE_URL: env('UL_CHILD_DATABASE_URL') }),
    db,
    listen: false,
    piiKeys: { masterKey: Buffer.from(env('UL_CHILD_PII_MASTER'), 'hex'), hmacKey: Buffer.from(env('UL_CHILD_PII_HMAC'), 'hex') },
    payments: new PaymentGatewayHttpClient({ baseUrl: env('UL_CHILD_GATEWAY_URL'), apiKey: env('UL_CHILD_GATEWAY_KEY'), timeoutMs: Number(env('UL_CHILD_GATEWAY_TIMEOUT_MS')) }),
  });
  const connection = new Redis(env('UL_CHILD_REDIS_URL'), { maxRetriesPerRequest: null });
  const worker = startPayoutWorker({
    effect: ledger.payoutEffect,
    connection,
    prefix: env('UL_CHILD_PREFIX'),
    concurrency: Number(env('UL_CHILD_CONCURRENCY')),
    lockDurationMs: Number(env('UL_CHILD_LOCK_MS')),
    stalledIntervalMs: Number(env('UL_CHILD_LOCK_MS')),
  });
  worker.on('completed', (job, result) => process.stdout.write(`done ${result.payoutId} ${result.outcome}\n`));
  await worker.waitUntilReady();
  process.stdout.write('ready\n');
  // Runs until killed; a polite SIGTERM closes everything.
  process.once('SIGTERM', () => {
    void (async () => {
      await worker.close();
      await ledger.close();
      await closeDatabase(db);
      connection.disconnect();
    })();
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`payout worker child: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
