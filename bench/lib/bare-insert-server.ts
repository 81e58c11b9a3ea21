/**
 * The HTTP ceiling for bench:checkin: the least a service can do per request over HTTP on this
 * machine. A bare Fastify server (no NestJS, no authentication, no rate limit, no logging) whose
 * one route inserts the row it is sent into bench_checkin_baseline with one autocommit INSERT, the
 * same statement as the plain-INSERT baseline. bench:checkin starts it as a child process, loads
 * it at the same concurrency with the same HTTP client, and prints its rate beside the commands'.
 *
 * It is not a candidate design: it is the yardstick that tells how much of the gap between a
 * check-in and a plain INSERT is HTTP itself (parsing, two socket writes and a wake-up per
 * request, on the cores PostgreSQL also needs) and how much is the service's own work.
 *
 *   DATABASE_URL=postgres://... node dist/bench/lib/bare-insert-server.js
 *
 * It logs "listening on <url>" once it listens, as the service does (startService waits for it).
 */
import Fastify from 'fastify';
import pgPromise from 'pg-promise';

/** The same pool size as the service's default DATABASE_POOL_MAX. */
const POOL_MAX = 20;

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is required');
  const pgp = pgPromise();
  const db = pgp({ connectionString: url, max: POOL_MAX, application_name: 'ul-bench-bare-insert' });
  const app = Fastify({ logger: false, bodyLimit: 16 * 1024 });
  app.post<{ Body: [string, string, string] }>('/insert', async (request, reply) => {
    const row = request.body;
    if (!Array.isArray(row) || row.length !== 3 || !row.every((value) => typeof value === 'string')) {
      return reply.code(400).send({ code: 'BENCH.BAD_ROW' });
    }
    await db.none({
      name: 'bench-bare-insert',
      text: 'INSERT INTO bench_checkin_baseline (stream_id, data, metadata) VALUES ($1, $2::jsonb, $3::jsonb)',
      values: row,
    });
    return reply.code(201).send({ ok: true });
  });
  const address = await app.listen({ host: process.env.HOST ?? '127.0.0.1', port: Number(process.env.PORT ?? 0) });
  process.stdout.write(`listening on ${address} \n`);
  const stop = (): void => {
    void app
      .close()
      .then(() => pgp.end())
      .finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`bare-insert-server failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
