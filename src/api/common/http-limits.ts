import type { Readable } from 'node:stream';
import { applyDecorators, Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';
import { ApiConsumes } from '@nestjs/swagger';
import { errorCodes, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Observable } from 'rxjs';
import type { HttpLimits } from '../../config/config';
import { AppError, ClientAbortError } from './errors';

/**
 * What a client may cost the service before it has proven who it is, and how long it may take.
 *
 * - JSON bodies are small (HTTP_BODY_LIMIT_BYTES) and parsed by Fastify before routing.
 * - Uploads (text/csv) are taken only by routes marked @CsvUpload(), and their body is read only
 *   after the guards (authentication, role, rate limit) have let the request through: the parser
 *   hands the unread stream on as a DeferredUpload, and UploadBodyInterceptor, the first
 *   interceptor, reads it (up to HTTP_UPLOAD_LIMIT_BYTES). An anonymous 31 MiB upload costs
 *   nothing but the bytes the kernel buffers. text/csv anywhere else is 415 unread.
 * - A body that is refused unread (401, 403, 413, 415) is drained and thrown away when it is at
 *   most the upload limit, so the client sees the answer instead of a connection reset; a larger
 *   one closes the connection after the answer.
 * - Timeouts: the headers must arrive within HTTP_HEADERS_TIMEOUT_MS and the whole request within
 *   HTTP_REQUEST_TIMEOUT_MS (Node answers 408 and closes), checked every second; idle keep-alive
 *   connections close after HTTP_KEEP_ALIVE_TIMEOUT_MS; at most HTTP_MAX_CONNECTIONS at once.
 */

/** Fastify route config key of routes that take an upload (set by @CsvUpload()). */
const UPLOAD_ROUTE = 'unionLedgerUpload';
/** How often Node checks the header and request timeouts (its default, 30 s, lets a slow client stay up to twice as long). */
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;

/** The route takes a roster upload as text/csv: read after authentication, up to the upload limit. */
export function CsvUpload(): MethodDecorator {
  return applyDecorators(RouteConfig({ [UPLOAD_ROUTE]: true }), ApiConsumes('text/csv'));
}

function tooLarge(limitBytes: number): AppError {
  return new AppError('HTTP.PAYLOAD_TOO_LARGE', `the body is larger than the ${limitBytes} bytes this route takes`, 413, { limitBytes });
}

/** An upload's body, not read yet: the request body of an upload route until UploadBodyInterceptor reads it. */
export class DeferredUpload {
  constructor(
    private readonly stream: Readable,
    readonly limitBytes: number,
  ) {}

  /** Reads the body into memory, up to the limit (413 beyond it, ClientAbortError if the client goes away). */
  read(): Promise<Buffer> {
    const { stream, limitBytes } = this;
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let received = 0;
      const finish = (outcome: () => void): void => {
        stream.off('data', onData);
        stream.off('end', onEnd);
        stream.off('error', onAbort);
        stream.off('close', onClose);
        outcome();
      };
      const onData = (chunk: Buffer): void => {
        received += chunk.length;
        if (received > limitBytes) {
          finish(() => reject(tooLarge(limitBytes)));
          return;
        }
        chunks.push(chunk);
      };
      const onEnd = (): void => finish(() => resolve(Buffer.concat(chunks, received)));
      const onAbort = (): void => finish(() => reject(new ClientAbortError(received)));
      const onClose = (): void => {
        if (!stream.readableEnded) onAbort();
      };
      stream.on('data', onData);
      stream.on('end', onEnd);
      stream.on('error', onAbort);
      stream.on('close', onClose);
      stream.resume();
    });
  }
}

/**
 * The first interceptor: reads a deferred upload once the guards have passed, so that the
 * idempotency interceptor (which hashes the body) and the handler see its bytes.
 */
@Injectable()
export class UploadBodyInterceptor implements NestInterceptor {
  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    if (context.getType() === 'http') {
      const request = context.switchToHttp().getRequest<FastifyRequest>();
      if (request.body instanceof DeferredUpload) request.body = await request.body.read();
    }
    return next.handle();
  }
}

/** The Node HTTP server's options, for Fastify's `http` option: timeouts checked every second. */
export function httpServerOptions(limits: HttpLimits) {
  return {
    requestTimeout: limits.requestTimeoutMs,
    headersTimeout: limits.headersTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
  };
}

/** Fastify's own options for the same limits (Fastify sets some of them on the server again after creating it). */
export function fastifyLimitOptions(limits: HttpLimits) {
  return {
    bodyLimit: limits.bodyLimitBytes,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    http: httpServerOptions(limits),
  };
}

/** Registers the text/csv parser, the connection cap and the draining of refused bodies. */
export function applyHttpLimits(instance: FastifyInstance, limits: HttpLimits): void {
  instance.server.maxConnections = limits.maxConnections;

  instance.addContentTypeParser('text/csv', (request, payload, done) => {
    // Only upload routes take CSV; anywhere else it is refused before a byte of it is read.
    if ((request.routeOptions.config as unknown as Record<string, unknown> | undefined)?.[UPLOAD_ROUTE] !== true) {
      done(new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(request.headers['content-type']), undefined);
      return;
    }
    if (Number(request.headers['content-length']) > limits.uploadLimitBytes) {
      done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE(), undefined);
      return;
    }
    done(null, new DeferredUpload(payload, limits.uploadLimitBytes));
  });

  // A request answered before its body has arrived (refused unread, or refused when too large):
  // closing the connection after such an answer (Fastify does, and Node does when the client
  // sent Connection: close) resets it under a client still sending, which may then never read
  // the answer. A body of up to the upload limit is read
  // and thrown away instead (the request timeout still bounds it) and the connection kept; only a
  // larger one, or one of unknown length, is cut.
  instance.addHook('onSend', (request, reply, payload, done) => {
    const raw = request.raw;
    if (raw.complete || raw.destroyed) {
      done(null, payload);
      return;
    }
    const declared = Number(request.headers['content-length']);
    if (Number.isSafeInteger(declared) && declared <= limits.uploadLimitBytes) {
      reply.removeHeader('connection');
      // Even when the client asked for Connection: close (most upload tools do): Node would close
      // the socket as soon as the answer is written, under the client's feet. Kept open, the rest
      // of the body is read and dropped, and the client closes once it has sent it and read us.
      reply.raw.shouldKeepAlive = true;
      raw.on('error', () => undefined); // A client that gives up while being drained is no error.
      raw.resume();
    } else {
      void reply.header('connection', 'close');
    }
    done(null, payload);
  });
}
