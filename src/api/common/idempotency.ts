import { createHash } from 'node:crypto';
import {
  Inject,
  Injectable,
  Logger,
  SetMetadata,
  createParamDecorator,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { catchError, from, mergeMap, of, throwError, type Observable } from 'rxjs';
import { canonicalJson } from '../../eventstore/canonical';
import type { Queryable } from '../../infra/database';
import type { Runtime } from '../../infra/runtime';
import { RUNTIME } from '../tokens';
import { IdempotencyLookup, RefusalWriter, type StoredIdempotencyRow } from './idempotency-lookup';
import { principalOf } from './auth';
import { UNRECORDED } from './unrecorded';
import { AppError, renderKnownError } from './errors';

/**
 * Idempotency-Key for every state-changing request (POST, PUT, PATCH, DELETE).
 *
 * The first request with a key claims it (a 'pending' row in ul_idempotency), runs, and stores its
 * status and body. A retry with the same key and the same method, path and body gets the stored
 * response again with `Idempotent-Replay: true` and the handler does not run; the same key with
 * anything else is 409 IDEMPOTENCY.KEY_REUSED; a retry while the first still runs is 409
 * IDEMPOTENCY.IN_PROGRESS. Client errors (4xx) are stored too, so a retry gets the same answer;
 * server errors release the key so the client can try again.
 *
 * The row is written in its own statement, never inside a command's transaction: a transaction
 * that wrote before taking a stream's lock would get its xid early and could reorder the feed
 * (see the brief). The crash window (event appended, response not stored) is closed by command
 * handlers deriving their event ids from (actor, key) with `deterministicEventId`: the re-run
 * appends the same ids, and the event store answers it as a replay.
 */

export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
const KEY_PATTERN = /^[A-Za-z0-9_\-:.]{1,200}$/;
const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** Responses above this are not kept: a retry then learns the original status only. */
export const MAX_STORED_RESPONSE_BYTES = 64 * 1024;
/** A 'pending' row older than this belongs to a request that died (crash, lost connection): a retry may take it over. */
export const PENDING_LEASE_SECONDS = 60;
/** Keys are remembered this long; purgeIdempotencyKeys deletes older rows. */
export const IDEMPOTENCY_RETENTION_SECONDS = 24 * 3600;
const PURGE_INTERVAL_MS = 3600_000;
/** The row can vanish between the failed insert and the read (the first request failed): claim again, a few times. */
const MAX_CLAIM_ATTEMPTS = 3;

const keys = new WeakMap<object, string>();
const digests = new WeakMap<object, string>();

export const EVENT_SOURCED_IDEMPOTENCY = 'union-ledger:event-sourced-idempotency';
/** COMMAND_ID_REUSED of src/application/command-handler.ts (the HTTP chassis matches the code, not the module). */
const COMMAND_ID_REUSED_CODE = 'COMMAND.ID_REUSED';

/**
 * The route's command derives its event ids from (actor, key) and its handler answers a repeated
 * command id from the stream, compares the request digest stored in the events' metadata
 * (`@IdempotencyDigest()`, passed as CommandMeta.requestHash), and refuses another body with
 * IDEMPOTENCY.KEY_REUSED. So the event store is the idempotency record of an accepted request:
 * the interceptor writes no row for it (it wrote two commits per command before: claim, then
 * answer). Rows are written only where no event exists: a refusal (4xx), stored in one statement
 * so that a retry gets the same refusal even if the state has changed since. Before running, one
 * read (no commit) looks for such a row, gathered with the concurrent requests' reads into one
 * SELECT (IdempotencyLookup). What is given up: a retry racing its original is not
 * answered IDEMPOTENCY.IN_PROGRESS (both run; the event ids make one of them a replay), and a
 * replay of an accepted request answers the original events with the member's current state
 * (balance, streak), without Idempotent-Replay.
 */
export const EventSourcedIdempotency = (options: EventSourcedIdempotencyOptions = {}): MethodDecorator =>
  SetMetadata(EVENT_SOURCED_IDEMPOTENCY, { storeRefusals: options.storeRefusals ?? true });

export interface EventSourcedIdempotencyOptions {
  /**
   * false: the route's refusals change nothing and are safe to answer again from the current
   * state (a claim's CLAIM.SOLD_OUT, NOT_OPEN, ALREADY_CLAIMED), so none is stored and no row is
   * read before running: the request touches no idempotency table at all. The route's own
   * handler answers a retry of an accepted request (its identity is in the log). What is given
   * up: a retry of a refusal is answered from the state then, not from the first answer (a claim
   * refused NOT_OPEN and retried once the window opened is decided then), and the same key on
   * another request of the route is not detected as reused when the route's command has no
   * per-key identity.
   */
  storeRefusals?: boolean;
}

/** `@IdempotencyDigest() digest: string`: hex SHA-256 of the request (method, path, canonical body), for CommandMeta.requestHash. */
export const IdempotencyDigest = createParamDecorator((_data: unknown, context: ExecutionContext): string => {
  const digest = digests.get(context.switchToHttp().getRequest<FastifyRequest>());
  if (digest === undefined) throw new Error('@IdempotencyDigest() used on a route the idempotency interceptor does not cover');
  return digest;
});

/** `@IdempotencyKey() key: string`: the request's validated Idempotency-Key (on POST/PUT/PATCH/DELETE). */
export const IdempotencyKey = createParamDecorator((_data: unknown, context: ExecutionContext): string => {
  const key = keys.get(context.switchToHttp().getRequest<FastifyRequest>());
  if (key === undefined) throw new Error('@IdempotencyKey() used on a route the idempotency interceptor does not cover');
  return key;
});

/**
 * A UUID derived from (actor, key, discriminator), so a re-run of the same request appends events
 * with the same ids. `discriminator` tells apart several events of one request ('grant', 'hold:0').
 */
export function deterministicEventId(actor: string, key: string, discriminator: string): string {
  const bytes = createHash('sha256').update(`union-ledger:idempotency\n${actor}\n${key}\n${discriminator}`, 'utf8').digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80; // version 8: application-defined (RFC 9562)
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // RFC 9562 variant
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** SHA-256 over method, path and the RFC 8785 form of the body, so key order and spacing do not matter. */
export function requestHash(method: string, path: string, body: unknown): Buffer {
  // Uploads (text/csv) arrive as bytes: hashed as they are, not as a JSON object of indices.
  if (Buffer.isBuffer(body)) {
    return createHash('sha256').update(canonicalJson({ method, path, bodyBytes: true }), 'utf8').update(body).digest();
  }
  return createHash('sha256').update(canonicalJson({ method, path, body: body ?? null }), 'utf8').digest();
}

/** Deletes rows older than the retention, in bounded batches; returns how many. Run hourly by the interceptor. */
export async function purgeIdempotencyKeys(
  db: Queryable,
  options: { olderThanSeconds?: number; batchSize?: number; maxBatches?: number } = {},
): Promise<number> {
  const olderThanSeconds = options.olderThanSeconds ?? IDEMPOTENCY_RETENTION_SECONDS;
  const batchSize = options.batchSize ?? 5000;
  let deleted = 0;
  for (let batch = 0; batch < (options.maxBatches ?? 100); batch++) {
    const result = await db.result(
      `DELETE FROM ul_idempotency WHERE ctid IN (
         SELECT ctid FROM ul_idempotency WHERE created_at < now() - make_interval(secs => $1) LIMIT $2)`,
      [olderThanSeconds, batchSize],
    );
    deleted += result.rowCount;
    if (result.rowCount < batchSize) break;
  }
  return deleted;
}

type StoredRow = StoredIdempotencyRow;

/** A replay answers the stored text as it is, never re-serialised (the bytes of the original response). */
type Claim = { kind: 'run' } | { kind: 'replay'; status: number; json: string | undefined };

/** What Fastify's default serialiser labels a JSON response with; a replay says the same. */
const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/** What a stored row answers a request with the same key: its stored response, or why not. */
function answerFromRow(row: StoredRow, method: string, path: string, hash: Buffer): Extract<Claim, { kind: 'replay' }> {
  if (row.method !== method || row.path !== path || !row.request_hash.equals(hash)) {
    throw AppError.conflict('IDEMPOTENCY.KEY_REUSED', 'this Idempotency-Key was already used for a different request', {
      method: row.method,
      path: row.path,
    });
  }
  if (row.status === 'pending') {
    throw AppError.conflict('IDEMPOTENCY.IN_PROGRESS', 'a request with this Idempotency-Key is still being processed; retry shortly');
  }
  if (row.response_omitted) {
    throw AppError.conflict('IDEMPOTENCY.RESPONSE_NOT_KEPT', 'this request was already processed; its response was too large to keep', {
      originalStatus: row.response_status,
    });
  }
  // response_body: rows stored before schema version 9 (their key order is jsonb's).
  const json = row.response_text ?? (row.response_body === null || row.response_body === undefined ? undefined : JSON.stringify(row.response_body));
  return { kind: 'replay', status: row.response_status ?? 200, json };
}

@Injectable()
export class IdempotencyInterceptor implements NestInterceptor, OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('idempotency');
  private purgeTimer: NodeJS.Timeout | undefined;
  private readonly lookup: IdempotencyLookup;
  /** Refusals are written in batches too, as the look-ups are read. */
  private readonly refusals: RefusalWriter;

  constructor(@Inject(RUNTIME) private readonly runtime: Runtime) {
    this.lookup = new IdempotencyLookup(() => this.runtime.db);
    this.refusals = new RefusalWriter(() => this.runtime.db);
  }

  onModuleInit(): void {
    // Every instance purges; the DELETE is idempotent and batched, so that costs little.
    this.purgeTimer = setInterval(() => {
      purgeIdempotencyKeys(this.runtime.db)
        .then((count) => count > 0 && this.logger.log(`purged ${count} idempotency keys older than 24 h`))
        .catch((error: unknown) => this.logger.warn(`purging idempotency keys failed: ${(error as Error).message}`));
    }, PURGE_INTERVAL_MS);
    this.purgeTimer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.purgeTimer);
  }

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    if (context.getType() !== 'http') return next.handle();
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    if (!UNSAFE_METHODS.has(request.method)) return next.handle();
    if (Reflect.getMetadata(UNRECORDED, context.getHandler()) === true) {
      // Not recorded and not required; but a key that is sent must still be well-formed.
      const given = request.headers[IDEMPOTENCY_KEY_HEADER];
      if (given !== undefined && (typeof given !== 'string' || !KEY_PATTERN.test(given))) {
        throw AppError.badRequest('IDEMPOTENCY.KEY_INVALID', 'the Idempotency-Key must be 1 to 200 of A-Z a-z 0-9 _ - : .');
      }
      return next.handle();
    }
    const reply = context.switchToHttp().getResponse<FastifyReply>();

    const header = request.headers[IDEMPOTENCY_KEY_HEADER];
    if (header === undefined || header === '') {
      throw AppError.badRequest('IDEMPOTENCY.KEY_REQUIRED', `${request.method} needs an Idempotency-Key header (1 to 200 of A-Z a-z 0-9 _ - : .)`);
    }
    if (typeof header !== 'string' || !KEY_PATTERN.test(header)) {
      throw AppError.badRequest('IDEMPOTENCY.KEY_INVALID', 'the Idempotency-Key must be 1 to 200 of A-Z a-z 0-9 _ - : .');
    }
    const key = header;
    const actor = principalOf(request)?.sub ?? 'anonymous';
    let hash: Buffer;
    try {
      hash = requestHash(request.method, request.url, request.body);
    } catch (error) {
      // canonicalJson refuses a number with no JSON form (1e400 parses to Infinity) and recurses
      // once per level (a body nested 50,000 deep overflows the stack): the client's error, not a 500.
      if (!(error instanceof RangeError || error instanceof TypeError)) throw error;
      throw AppError.badRequest('HTTP.BAD_REQUEST', 'the body has a number out of range or is nested too deeply');
    }

    const eventSourced = Reflect.getMetadata(EVENT_SOURCED_IDEMPOTENCY, context.getHandler()) as { storeRefusals: boolean } | undefined;
    if (eventSourced !== undefined) {
      if (!eventSourced.storeRefusals) {
        keys.set(request, key);
        digests.set(request, hash.toString('hex'));
        return next.handle();
      }
      return this.interceptEventSourced(request, reply, next, actor, key, hash);
    }

    const claim = await this.claim(actor, key, request.method, request.url, hash);
    if (claim.kind === 'replay') {
      void reply.status(claim.status).header('idempotent-replay', 'true');
      if (claim.json === undefined) return of(undefined);
      void reply.header('content-type', JSON_CONTENT_TYPE);
      return of(claim.json);
    }
    keys.set(request, key);
    return next.handle().pipe(
      mergeMap(async (body: unknown) => {
        await this.complete(actor, key, reply.statusCode, body);
        return body;
      }),
      catchError((error: unknown) => from(this.completeWithError(actor, key, error)).pipe(mergeMap(() => throwError(() => error)))),
    );
  }

  /** See EventSourcedIdempotency: a read before, a row only for a refusal. */
  private async interceptEventSourced(
    request: FastifyRequest,
    reply: FastifyReply,
    next: CallHandler,
    actor: string,
    key: string,
    hash: Buffer,
  ): Promise<Observable<unknown>> {
    // Gathered with the other requests' lookups into one SELECT (idempotency-lookup.ts).
    const row = await this.lookup.find(actor, key);
    if (row) {
      const claim = answerFromRow(row, request.method, request.url, hash);
      void reply.status(claim.status).header('idempotent-replay', 'true');
      if (claim.json === undefined) return of(undefined);
      void reply.header('content-type', JSON_CONTENT_TYPE);
      return of(claim.json);
    }
    keys.set(request, key);
    digests.set(request, hash.toString('hex'));
    return next.handle().pipe(
      catchError((error: unknown) => {
        // The command handler found this command id stored with another request digest.
        if ((error as { code?: unknown })?.code === COMMAND_ID_REUSED_CODE) {
          return throwError(() => AppError.conflict('IDEMPOTENCY.KEY_REUSED', 'this Idempotency-Key was already used for a different request', {}));
        }
        return from(this.storeRefusal(actor, key, request.method, request.url, hash, error)).pipe(mergeMap(() => throwError(() => error)));
      }),
    );
  }

  /**
   * A refusal's answer, kept for retries. Not an IDEMPOTENCY.* error: that answers this request's
   * relation to an earlier one, and stored under the key it would then answer the earlier one too.
   */
  private async storeRefusal(actor: string, key: string, method: string, path: string, hash: Buffer, error: unknown): Promise<void> {
    const rendered = renderKnownError(error);
    if (!rendered?.deterministic || rendered.body.code.startsWith('IDEMPOTENCY.')) return;
    const json = JSON.stringify(rendered.body);
    const omitted = Buffer.byteLength(json, 'utf8') > MAX_STORED_RESPONSE_BYTES;
    await this.refusals
      .store({ actor, key, method, path, requestHash: hash, status: rendered.status, json: omitted ? null : json, omitted })
      .catch((failure: unknown) => this.logger.error(`storing the refusal for key ${key} failed: ${(failure as Error).message}`));
  }

  private async claim(actor: string, key: string, method: string, path: string, hash: Buffer): Promise<Claim> {
    const db = this.runtime.db;
    for (let attempt = 0; attempt < MAX_CLAIM_ATTEMPTS; attempt++) {
      const inserted = await db.oneOrNone(
        `INSERT INTO ul_idempotency (actor, key, method, path, request_hash, status)
         VALUES ($1, $2, $3, $4, $5, 'pending') ON CONFLICT DO NOTHING RETURNING 1 AS claimed`,
        [actor, key, method, path, hash],
      );
      if (inserted) return { kind: 'run' };

      // Same request, still pending past its lease: its process died. The handler is safe to run
      // again because command handlers derive their event ids from (actor, key).
      const takenOver = await db.oneOrNone(
        `UPDATE ul_idempotency SET created_at = now()
          WHERE actor = $1 AND key = $2 AND status = 'pending' AND method = $3 AND path = $4 AND request_hash = $5
            AND created_at < now() - make_interval(secs => $6)
         RETURNING 1 AS claimed`,
        [actor, key, method, path, hash, PENDING_LEASE_SECONDS],
      );
      if (takenOver) return { kind: 'run' };

      const row = await db.oneOrNone<StoredRow>(
        `SELECT method, path, request_hash, status, response_status, response_body, response_text, response_omitted
           FROM ul_idempotency WHERE actor = $1 AND key = $2`,
        [actor, key],
      );
      if (!row) continue;
      return answerFromRow(row, method, path, hash);
    }
    throw new Error(`idempotency key ${key}: could not claim it in ${MAX_CLAIM_ATTEMPTS} attempts`);
  }

  /** Stores the response as the text that is sent: JSON.stringify is what Fastify's default serialiser does. */
  private async complete(actor: string, key: string, status: number, body: unknown): Promise<void> {
    const json = body === undefined ? null : JSON.stringify(body);
    const omitted = json !== null && Buffer.byteLength(json, 'utf8') > MAX_STORED_RESPONSE_BYTES;
    if (omitted) this.logger.warn(`response to key ${key} is over ${MAX_STORED_RESPONSE_BYTES} bytes: stored without its body`);
    try {
      await this.runtime.db.none(
        `UPDATE ul_idempotency
            SET status = 'done', response_status = $3, response_text = $4, response_omitted = $5, completed_at = now()
          WHERE actor = $1 AND key = $2 AND status = 'pending'`,
        [actor, key, status, omitted ? null : json, omitted],
      );
    } catch (error) {
      // The effect happened and the client gets its answer; releasing the key lets a retry re-run
      // the handler, which the deterministic event ids make harmless.
      this.logger.error(`storing the response to key ${key} failed: ${(error as Error).message}`);
      await this.release(actor, key);
    }
  }

  private async completeWithError(actor: string, key: string, error: unknown): Promise<void> {
    const rendered = renderKnownError(error);
    if (rendered?.deterministic) {
      await this.complete(actor, key, rendered.status, rendered.body);
    } else {
      await this.release(actor, key);
    }
  }

  private async release(actor: string, key: string): Promise<void> {
    await this.runtime.db
      .none(`DELETE FROM ul_idempotency WHERE actor = $1 AND key = $2 AND status = 'pending'`, [actor, key])
      .catch((error: unknown) => this.logger.error(`releasing key ${key} failed (it frees itself after ${PENDING_LEASE_SECONDS} s): ${(error as Error).message}`));
  }
}
