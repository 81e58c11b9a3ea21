import type { CommandMeta } from '../../application/command-handler';
import type { JwtClaims } from './auth';

/**
 * A command's identity from the request: the caller and their Idempotency-Key. The same key
 * retried by the same caller is the same command, so the command handler answers it from the
 * stream instead of deciding it twice. `requestHash` (routes with EventSourcedIdempotency) is
 * stored with the events, so the same key with another request is refused (IDEMPOTENCY.KEY_REUSED).
 */
export function commandMeta(user: Pick<JwtClaims, 'sub' | 'role'>, idempotencyKey: string, requestHash?: string): CommandMeta {
  return { commandId: `${user.sub}:${idempotencyKey}`, actor: { type: user.role, id: user.sub }, ...(requestHash ? { requestHash } : {}) };
}
