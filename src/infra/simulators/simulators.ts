import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InsurerSimulator, type InsurerFaults } from './insurer';
import { readJson, send, type CallFaults } from './http';
import { SmsSimulator, type DeliveredSms } from './sms';

/**
 * Real HTTP simulators of the outside services the identity context talks to: WeChat's
 * `code2session` and an SMS gateway. The quick start runs them when WECHAT_API_URL / SMS_API_URL
 * are unset, and the tests run them, so the service always speaks real HTTP to something; a real
 * provider is a configuration away. They listen on 127.0.0.1 only and keep everything in memory,
 * bounded.
 *
 * WeChat (the parts a mini-program login uses):
 *   POST /simulator/wechat/codes { "user": "alice" }   → { "code", "openid" }: a one-time login
 *        code for a simulated WeChat user (the openid is derived from the user name)
 *   GET  /sns/jscode2session?appid&secret&js_code&grant_type=authorization_code
 *        → { "openid", "session_key" } or { "errcode": 40029 | 40163 | 40013 | 40125, "errmsg" }
 * SMS (idempotent by request key, with a status inquiry and fault injection): sms.ts
 *   GET  /simulator/sms/messages?phone=13800138000     → { "messages": [{ requestId, phone, template, params, sentAt }] }
 * The insurer (enrolment in the accident mutual-aid plan, idempotent by request id, with fault
 * injection): insurer.ts.
 */

export interface SimulatorSettings {
  wechatAppId: string;
  wechatAppSecret: string;
  smsApiKey: string;
  insurerApiKey: string;
}

export interface Simulators {
  url: string;
  settings: SimulatorSettings;
  /** SMS messages received, newest last (what a person would read on their phone). */
  messagesTo(phone: string): DeliveredSms[];
  /** The simulated SMS gateway: what it delivered, and its faults. */
  sms: SmsSimulator;
  /** A one-time WeChat login code for a simulated user. */
  issueCode(user: string): { code: string; openid: string };
  /** The simulated insurer: what it applied, and its faults. */
  insurer: InsurerSimulator;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 16 * 1024;
const MAX_CODES = 100_000;

export function simulatedOpenId(user: string): string {
  return `o${createHash('sha256').update(`simulated-wechat-user:${user}`, 'utf8').digest('base64url').slice(0, 27)}`;
}


export async function startSimulators(
  settings: Partial<SimulatorSettings> & { insurerFaults?: Partial<InsurerFaults>; smsFaults?: Partial<CallFaults> } = {},
): Promise<Simulators> {
  const resolved: SimulatorSettings = {
    wechatAppId: settings.wechatAppId ?? 'wx-simulator',
    wechatAppSecret: settings.wechatAppSecret ?? randomBytes(16).toString('hex'),
    smsApiKey: settings.smsApiKey ?? randomBytes(16).toString('hex'),
    insurerApiKey: settings.insurerApiKey ?? randomBytes(16).toString('hex'),
  };
  const insurer = new InsurerSimulator(resolved.insurerApiKey, settings.insurerFaults);
  /** Unused codes → openid; a used code is remembered as used (WeChat answers 40163). */
  const codes = new Map<string, { openid: string; used: boolean }>();
  const sms = new SmsSimulator(resolved.smsApiKey, settings.smsFaults);

  const issueCode = (user: string): { code: string; openid: string } => {
    if (codes.size >= MAX_CODES) codes.delete(codes.keys().next().value!);
    const code = randomBytes(12).toString('base64url');
    const openid = simulatedOpenId(user);
    codes.set(code, { openid, used: false });
    return { code, openid };
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://simulator');
    if (await insurer.handle(request, response, url, () => readJson(request, MAX_BODY_BYTES), (status, body) => send(response, status, body))) return;
    if (await sms.handle(request, response, url, () => readJson(request, MAX_BODY_BYTES))) return;
    if (request.method === 'POST' && url.pathname === '/simulator/wechat/codes') {
      const body = await readJson(request, MAX_BODY_BYTES);
      const user = body?.user;
      if (typeof user !== 'string' || user.length === 0 || user.length > 100) return send(response, 400, { error: 'user: 1-100 characters' });
      return send(response, 200, issueCode(user));
    }
    if (request.method === 'GET' && url.pathname === '/sns/jscode2session') {
      const query = url.searchParams;
      if (query.get('appid') !== resolved.wechatAppId) return send(response, 200, { errcode: 40013, errmsg: 'invalid appid' });
      if (query.get('secret') !== resolved.wechatAppSecret) return send(response, 200, { errcode: 40125, errmsg: 'invalid appsecret' });
      const entry = codes.get(query.get('js_code') ?? '');
      if (!entry) return send(response, 200, { errcode: 40029, errmsg: 'invalid code' });
      if (entry.used) return send(response, 200, { errcode: 40163, errmsg: 'code been used' });
      entry.used = true;
      return send(response, 200, { openid: entry.openid, session_key: randomBytes(16).toString('base64') });
    }
    send(response, 404, { error: 'not found' });
  };

  const server: Server = createServer((request, response) => {
    handle(request, response).catch(() => {
      if (!response.headersSent) send(response, 500, { error: 'simulator failure' });
      else response.destroy();
    });
  });
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    settings: resolved,
    messagesTo: (phone) => sms.messagesTo(phone),
    sms,
    issueCode,
    insurer,
    close: () =>
      new Promise<void>((resolve) => {
        insurer.close();
        sms.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
