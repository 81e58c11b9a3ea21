import { ExternalServiceError, type WeChatPort, type WeChatSession } from '../application/identity';
export { SmsHttpClient } from './sms-http';

/**
 * The HTTP adapter of the identity context's port to WeChat's code2session (the SMS gateway's is
 * in sms-http.ts, re-exported here). It has a deadline (an outside service that hangs must not
 * hang a request) and never logs or returns the secrets it carries.
 */

const TIMEOUT_MS = 5000;
const MAX_ANSWER_BYTES = 64 * 1024;

async function fetchJson(service: 'wechat', url: string, init: RequestInit): Promise<{ status: number; body: Record<string, unknown> }> {
  let response: Response;
  try {
    response = await fetch(url, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (error) {
    throw new ExternalServiceError(service, `${service} did not answer: ${(error as Error).name}`, false);
  }
  const text = await response.text();
  if (text.length > MAX_ANSWER_BYTES) throw new ExternalServiceError(service, `${service} answered with an oversized body`, false);
  let body: unknown;
  try {
    body = text === '' ? {} : JSON.parse(text);
  } catch {
    throw new ExternalServiceError(service, `${service} answered ${response.status} with a body that is not JSON`, false);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ExternalServiceError(service, `${service} answered with a body that is not an object`, false);
  return { status: response.status, body: body as Record<string, unknown> };
}

/** WeChat's `jscode2session` (GET {base}/sns/jscode2session?appid&secret&js_code&grant_type=authorization_code). */
export class WeChatHttpClient implements WeChatPort {
  constructor(private readonly options: { baseUrl: string; appId: string; appSecret: string }) {}

  async code2session(code: string): Promise<WeChatSession> {
    const url = new URL('/sns/jscode2session', this.options.baseUrl);
    url.search = new URLSearchParams({ appid: this.options.appId, secret: this.options.appSecret, js_code: code, grant_type: 'authorization_code' }).toString();
    const { status, body } = await fetchJson('wechat', url.toString(), { method: 'GET' });
    const errcode = typeof body.errcode === 'number' ? body.errcode : 0;
    // 40029: invalid code; 40163: code already used; 45011: rate limited (WeChat's documented codes).
    if (errcode === 40029 || errcode === 40163) throw new ExternalServiceError('wechat', 'the WeChat login code is invalid or was already used', true);
    if (status !== 200 || errcode !== 0 || typeof body.openid !== 'string' || body.openid.length === 0 || body.openid.length > 128) {
      throw new ExternalServiceError('wechat', `WeChat refused code2session (HTTP ${status}, errcode ${errcode})`, false);
    }
    return { openid: body.openid };
  }
}
