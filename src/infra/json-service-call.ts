/**
 * One call to an outside service that speaks JSON with a bearer API key and an idempotency key
 * (the insurer, the SMS gateway): what their HTTP adapters share. The deadline covers the whole
 * exchange, the body included: an answer that stops half way is no answer. Whatever goes wrong is
 * reported through `fail` with the adapter's own error type, naming the service and never the API
 * key or the request's body.
 */

/** Bodies longer than this are refused unread: a decision is a few hundred bytes. */
const MAX_ANSWER_BYTES = 16 * 1024;

export type CallFailure = 'timeout' | 'connection' | 'answer';

export interface JsonServiceCall {
  baseUrl: string;
  apiKey: string;
  timeoutMs: number;
  /** How errors name the service: "the insurer", "the SMS gateway". */
  service: string;
  fail(message: string, kind: CallFailure): Error;
}

export async function callJsonService(
  target: JsonServiceCall,
  method: 'GET' | 'POST',
  path: string,
  idempotencyKey: string | undefined,
  body: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { authorization: `Bearer ${target.apiKey}`, accept: 'application/json' };
  if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  let text: string;
  const signal = AbortSignal.timeout(target.timeoutMs);
  try {
    response = await fetch(new URL(path, target.baseUrl), { method, headers, signal, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    text = await response.text();
  } catch (error) {
    const name = (error as Error).name;
    if (name === 'TimeoutError' || name === 'AbortError') throw target.fail(`${target.service} did not answer within ${target.timeoutMs} ms`, 'timeout');
    throw target.fail(`the connection to ${target.service} failed (${name})`, 'connection');
  }
  if (text.length > MAX_ANSWER_BYTES) throw target.fail(`${target.service} answered with an oversized body`, 'answer');
  let parsed: unknown;
  try {
    parsed = text === '' ? {} : JSON.parse(text);
  } catch {
    throw target.fail(`${target.service} answered HTTP ${response.status} with a body that is not JSON`, 'answer');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw target.fail(`${target.service} answered with a body that is not an object`, 'answer');
  return { status: response.status, body: parsed as Record<string, unknown> };
}
