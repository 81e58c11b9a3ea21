import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * The web console (console/, built by `npm run build` into dist/console) served at /console.
 *
 * - /console/assets/*: Vite's hashed files, cached for a year and immutable (a new build has new
 *   names, so nothing stale is ever served from a cache).
 * - /console and every other /console/* path: index.html, never cached, so a reload after a
 *   deploy picks up the new asset names; the single-page app reads the path itself (#/ routes
 *   need no server help, and deep links still land on the app).
 * - The files are public, like /docs: the console holds no data of its own, and every call it
 *   makes carries the user's bearer token, which the API checks.
 * - helmet's headers apply (registered after it); the default content security policy fits, as
 *   the build has no inline script and fetches only from this origin.
 */

/** Where `npm run build` puts the console: dist/console under the project's root. */
export function defaultConsoleDir(): string {
  let dir = __dirname;
  // From src/api/common (ts-jest) or dist/src/api/common (built): the first folder up with a package.json.
  for (let depth = 0; depth < 8; depth += 1) {
    if (existsSync(path.join(dir, 'package.json'))) return path.join(dir, 'dist', 'console');
    dir = path.dirname(dir);
  }
  return path.resolve('dist', 'console');
}

const ONE_YEAR_SECONDS = 365 * 24 * 3600;

export async function mountConsole(fastify: FastifyInstance, consoleDir: string): Promise<void> {
  const indexFile = path.join(consoleDir, 'index.html');
  const assets = path.join(consoleDir, 'assets');
  if (existsSync(assets)) {
    await fastify.register(fastifyStatic, {
      root: assets,
      prefix: '/console/assets/',
      decorateReply: false,
      index: false,
      cacheControl: false,
      setHeaders: (reply) => reply.header('cache-control', `public, max-age=${ONE_YEAR_SECONDS}, immutable`),
    });
  }
  // index.html is read when it changes (a rebuild under a running service), else from memory.
  let cached: { mtimeMs: number; html: Buffer } | null = null;
  const page = (): Buffer | null => {
    if (!existsSync(indexFile)) return null;
    const mtimeMs = statSync(indexFile).mtimeMs;
    if (!cached || cached.mtimeMs !== mtimeMs) cached = { mtimeMs, html: readFileSync(indexFile) };
    return cached.html;
  };
  const serveIndex = async (_request: FastifyRequest, reply: FastifyReply) => {
    const html = page();
    reply.header('cache-control', 'no-cache');
    if (!html) {
      return reply
        .code(503)
        .type('application/json; charset=utf-8')
        .send({ code: 'CONSOLE.NOT_BUILT', message: `the console is not built (${indexFile} is missing): run npm run build`, details: {} });
    }
    return reply.type('text/html; charset=utf-8').send(html);
  };
  fastify.get('/console', serveIndex);
  fastify.get('/console/*', serveIndex);
}
