import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiExtension } from '@nestjs/swagger';

export const UNRECORDED = 'union-ledger:unrecorded';

/**
 * The route's answers are never stored for idempotent replay, and it needs no Idempotency-Key:
 * log-ins, refreshes and activations answer with tokens, and no token may rest in a table. A
 * retry of such a request simply runs again (a refresh token spent twice ends its session, so a
 * client that lost the answer logs in again).
 */
export const Unrecorded = (): MethodDecorator => applyDecorators(SetMetadata(UNRECORDED, true), ApiExtension(UNRECORDED_EXTENSION, true));

/** Marks the operation in the OpenAPI document, whose Idempotency-Key is then optional. */
export const UNRECORDED_EXTENSION = 'x-unrecorded';
