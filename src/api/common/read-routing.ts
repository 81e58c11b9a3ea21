import { Inject, Injectable, Logger, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { from, mergeMap, type Observable } from 'rxjs';
import type { UnionLedger } from '../../composition-root';
import { LEDGER } from '../tokens';
import { principalOf } from './auth';

const READ_METHODS = new Set(['GET', 'HEAD']);

/**
 * Read replicas with read-your-writes (src/infra/read-replica.ts), at the edge of a request.
 *
 * A read (GET, HEAD) chooses its database once, before the handler runs: the replica, unless the
 * caller wrote recently and the replica has not replayed that write within READ_REPLICA_MAX_WAIT_MS,
 * in which case the primary. The choice is carried in an AsyncLocalStorage (next.handle() is
 * called inside it, and Nest binds the handler to the context current at that call), and the
 * queries that may be served by a replica ask `UnionLedger.reads` for it.
 *
 * A successful write remembers the primary's WAL position for the caller before the answer goes
 * out, so the caller's next read, on any instance, finds the mark. Without a replica configured
 * this interceptor does nothing: no extra round trip on any request.
 */
@Injectable()
export class ReadRoutingInterceptor implements NestInterceptor {
  private readonly logger = new Logger('read-replica');

  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const routing = this.ledger.readRouting;
    if (!routing || context.getType() !== 'http') return next.handle();
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const principal = principalOf(request)?.sub;
    if (READ_METHODS.has(request.method)) {
      return from(routing.choose(principal)).pipe(mergeMap(({ db }) => routing.run(db, () => next.handle())));
    }
    if (principal === undefined) return next.handle();
    return next.handle().pipe(
      mergeMap(async (body: unknown) => {
        // The write has happened: failing its answer now would only make the client retry it.
        // Without the mark this caller may read the replica's older state for up to its lag.
        await routing.markWrite(principal).catch((error: unknown) => this.logger.warn(`remembering a write position failed: ${(error as Error).message}`));
        return body;
      }),
    );
  }
}
