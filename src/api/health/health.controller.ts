import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { Runtime } from '../../infra/runtime';
import { Public } from '../common/auth';
import { RUNTIME } from '../tokens';

interface Check {
  ok: boolean;
  latencyMs: number;
  error?: string;
}

/** Each dependency is checked with its own deadline so one hung server cannot hang the health check. */
async function timed(check: () => Promise<unknown>, timeoutMs = 2000): Promise<Check> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { ok: true, latencyMs: Math.round(performance.now() - started) };
  } catch (error) {
    return { ok: false, latencyMs: Math.round(performance.now() - started), error: (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

@Controller('health')
export class HealthController {
  constructor(@Inject(RUNTIME) private readonly runtime: Runtime) {}

  /** 200 when PostgreSQL and Redis answer, 503 otherwise; no authentication, no personal data. */
  @Public()
  @Get()
  async health(@Res({ passthrough: true }) reply: FastifyReply): Promise<Record<string, unknown>> {
    const [postgres, redis] = await Promise.all([
      timed(() => this.runtime.db.one('SELECT 1')),
      this.runtime.redis ? timed(() => this.runtime.redis!.ping()) : Promise.resolve(undefined),
    ]);
    const ok = postgres.ok && (redis?.ok ?? true);
    void reply.status(ok ? 200 : 503);
    return {
      status: ok ? 'ok' : 'unavailable',
      schemaVersion: this.runtime.migrations.current,
      checks: { postgres, ...(redis ? { redis } : {}) },
    };
  }
}
