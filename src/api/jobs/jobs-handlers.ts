import { Inject } from '@nestjs/common';
import { Command, CommandHandler, Query, QueryHandler, type ICommandHandler, type IQueryHandler } from '@nestjs/cqrs';
import type { UnionLedger } from '../../composition-root';
import type { FailedJob } from '../../application/jobs';
import type { JwtClaims } from '../common/auth';
import { AppError } from '../common/errors';
import { LEDGER } from '../tokens';
import { DASHBOARD_AUDIENCE, DASHBOARD_SESSION_TTL_SECONDS } from './queue-dashboard';

/**
 * The jobs context's query and command as @nestjs/cqrs messages. Dead letters span the whole
 * ledger (a job carries ids only, not the union it concerns), so only an admin of a root union
 * may see or retry them.
 */

async function requireRootAdmin(ledger: UnionLedger, user: JwtClaims): Promise<void> {
  if (!(await ledger.orgAccess.isRootAdmin(user))) {
    throw AppError.forbidden('AUTH.FORBIDDEN', 'only an admin of a root organisation may see or retry failed jobs');
  }
}

export class GetFailedJobs extends Query<{ queue: string; jobs: FailedJob[]; total: number; nextCursor: string | null }> {
  constructor(
    readonly user: JwtClaims,
    readonly queue: string,
    readonly offset: number,
    readonly limit: number,
  ) {
    super();
  }
}

@QueryHandler(GetFailedJobs)
export class GetFailedJobsHandler implements IQueryHandler<GetFailedJobs> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  async execute({ user, queue, offset, limit }: GetFailedJobs) {
    await requireRootAdmin(this.ledger, user);
    return this.ledger.deadLetters.list(queue, offset, limit);
  }
}

export class RetryJob extends Command<{ queue: string; jobId: string; status: 'retried' }> {
  constructor(
    readonly user: JwtClaims,
    readonly queue: string,
    readonly jobId: string,
  ) {
    super();
  }
}

@CommandHandler(RetryJob)
export class RetryJobHandler implements ICommandHandler<RetryJob> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  async execute({ user, queue, jobId }: RetryJob) {
    await requireRootAdmin(this.ledger, user);
    return this.ledger.deadLetters.retry(queue, jobId);
  }
}

/** A session of the queue dashboard: a token only the dashboard accepts, for its cookie. */
export class OpenDashboardSession extends Command<{ token: string; maxAgeSeconds: number; expiresAtMs: number }> {
  constructor(readonly user: JwtClaims) {
    super();
  }
}

@CommandHandler(OpenDashboardSession)
export class OpenDashboardSessionHandler implements ICommandHandler<OpenDashboardSession> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  async execute({ user }: OpenDashboardSession) {
    await requireRootAdmin(this.ledger, user);
    const nowMs = Date.now();
    // Never longer than the bearer token that opened it: a session outliving its token would extend it.
    const maxAgeSeconds = Math.max(1, Math.min(DASHBOARD_SESSION_TTL_SECONDS, user.exp - Math.floor(nowMs / 1000)));
    // The cookie names the bearer token's session, so that ending the session closes the dashboard too.
    const token = await this.ledger.identity.tokens.sign(
      { sub: user.sub, role: user.role, org: user.org, ...(user.sid ? { sid: user.sid } : {}) },
      { ttlSeconds: maxAgeSeconds, nowMs, audience: DASHBOARD_AUDIENCE },
    );
    return { token, maxAgeSeconds, expiresAtMs: nowMs + maxAgeSeconds * 1000 };
  }
}

export const JOBS_HANDLERS = [GetFailedJobsHandler, RetryJobHandler, OpenDashboardSessionHandler];
