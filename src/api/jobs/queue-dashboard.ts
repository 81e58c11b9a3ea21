import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter as BullBoardFastifyAdapter } from '@bull-board/fastify';
import type { Queue } from 'bullmq';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { InvalidTokenError, type TokenClaims, type TokenService } from '../../application/identity';

/**
 * The queue dashboard (bull-board) at /admin/queues, over every queue of the ledger, for admins
 * of a root union only: like the dead letters (jobs-handlers.ts), a job carries no union, so
 * nobody below the root may see the queues. Its routes are plain Fastify routes, outside Nest's
 * guards, so the check is a hook of the dashboard's own encapsulated plugin: every page, static
 * file and JSON call under the path goes through it before bull-board sees the request.
 *
 * Browsers cannot send a bearer header when they navigate, so a root admin first calls
 * POST /v1/admin/dashboard/session with their bearer token; it sets a short-lived HttpOnly,
 * SameSite=Strict cookie, scoped to this path, holding a token signed for the dashboard's own
 * audience: the API refuses that token, and the cookie is sent nowhere else.
 */

export const DASHBOARD_PATH = '/admin/queues';
export const DASHBOARD_COOKIE = 'ul_queue_dashboard';
/** The audience of the cookie's token (TokenService.sign): it opens the dashboard and nothing else. */
export const DASHBOARD_AUDIENCE = 'union-ledger-queue-dashboard';
/** A dashboard session lasts 15 minutes at most, and never beyond the bearer token that opened it. */
export const DASHBOARD_SESSION_TTL_SECONDS = 15 * 60;

export interface DashboardAccessCheck {
  tokens: TokenService;
  isRootAdmin(claims: TokenClaims): Promise<boolean>;
  /** True when the token's session was ended (as the API's AuthGuard checks). */
  sessionEnded?(sessionId: string | undefined): boolean;
}

interface Refusal {
  status: 401 | 403;
  code: string;
  message: string;
}

/**
 * The value of one cookie. Written here because it is the only cookie this service reads
 * (@fastify/cookie is not installed): split on ';', then on the first '='.
 */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header || header.length > 8192) return undefined;
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

/** Who may open the dashboard: a bearer token of the API, else the session cookie; then a root admin only. */
async function refusalFor(request: FastifyRequest, access: DashboardAccessCheck): Promise<Refusal | null> {
  const header = request.headers.authorization;
  const cookie = cookieValue(request.headers.cookie, DASHBOARD_COOKIE);
  let claims: TokenClaims;
  try {
    if (header !== undefined && header.trim() !== '') {
      const match = /^Bearer +(\S+)\s*$/i.exec(header);
      if (!match) throw new InvalidTokenError('the Authorization header must be "Bearer <token>"');
      claims = await access.tokens.verify(match[1]!);
    } else if (cookie) {
      claims = await access.tokens.verify(cookie, Date.now(), DASHBOARD_AUDIENCE);
    } else {
      return { status: 401, code: 'AUTH.MISSING_TOKEN', message: `a bearer token, or the session cookie of POST /v1/admin/dashboard/session, is required` };
    }
  } catch (error) {
    if (!(error instanceof InvalidTokenError)) throw error;
    return { status: 401, code: 'AUTH.INVALID_TOKEN', message: error.message };
  }
  if (access.sessionEnded?.(claims.sid)) return { status: 401, code: 'AUTH.SESSION_ENDED', message: 'the session of this token was ended (logged out or revoked); log in again' };
  if (!(await access.isRootAdmin(claims))) {
    return { status: 403, code: 'AUTH.FORBIDDEN', message: 'only an admin of a root organisation may open the queue dashboard' };
  }
  return null;
}

/** Mounts bull-board at DASHBOARD_PATH on the app's Fastify instance, behind the check above. */
export async function mountQueueDashboard(fastify: FastifyInstance, options: { queues: readonly Queue[]; access: DashboardAccessCheck }): Promise<void> {
  const board = new BullBoardFastifyAdapter();
  board.setBasePath(DASHBOARD_PATH);
  createBullBoard({
    // Read-only: jobs are seen here, and changed through the audited routes (POST
    // /v1/admin/jobs/:queue/:jobId/retry), never removed, emptied or obliterated from a page.
    queues: options.queues.map((queue) => new BullMQAdapter(queue, { readOnlyMode: true })),
    serverAdapter: board,
    options: { uiConfig: { boardTitle: 'Union Ledger queues' } },
  });
  await fastify.register(
    async (scope) => {
      scope.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
        const refusal = await refusalFor(request, options.access);
        if (!refusal) return;
        if (refusal.status === 401) void reply.header('www-authenticate', 'Bearer realm="union-ledger"');
        // Nothing of the dashboard may be cached where another user could find it.
        return reply
          .code(refusal.status)
          .header('cache-control', 'no-store')
          .header('content-type', 'application/json; charset=utf-8')
          .send({ code: refusal.code, message: refusal.message, details: {} });
      });
      scope.addHook('onSend', async (_request, reply, payload) => {
        void reply.header('cache-control', 'no-store');
        return payload;
      });
      await scope.register(board.registerPlugin());
    },
    { prefix: DASHBOARD_PATH },
  );
}
