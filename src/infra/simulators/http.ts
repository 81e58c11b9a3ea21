import type { IncomingMessage, ServerResponse } from 'node:http';

/** What the simulators' small HTTP servers share: a JSON answer, and a bounded JSON body. */

export function send(response: ServerResponse, status: number, body: unknown): void {
  // A client that gave up (a timeout the test injected) has closed the socket: nothing to answer.
  if (response.destroyed) return;
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

/** The request's JSON object, or null when it is not one or is longer than `maxBytes`. */
export async function readJson(request: IncomingMessage, maxBytes: number): Promise<Record<string, unknown> | null> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) return null;
    chunks.push(chunk as Buffer);
  }
  try {
    const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
