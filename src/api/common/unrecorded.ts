import { SetMetadata } from '@nestjs/common';

export const UNRECORDED = 'union-ledger:unrecorded';

/**
 * The route's answers are never stored for idempotent replay, and it needs no Idempotency-Key:
 * log-ins, refreshes and activations answer with tokens, and no token may rest in a table. A
 * retry of such a request simply runs again (a refresh token spent twice ends its session, so a
 * client that lost the answer logs in again).
 */
export const Unrecorded = (): MethodDecorator => SetMetadata(UNRECORDED, true);
