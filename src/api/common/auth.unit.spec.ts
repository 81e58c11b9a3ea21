import { createHmac } from 'node:crypto';
import { AppError } from './errors';
import { signJwt, verifyJwt } from './auth';

const SECRET = 'unit-test-secret-unit-test-secret-0123456789';
const NOW_MS = 1_750_000_000_000;
const subject = { sub: 'member-1', role: 'member' as const, org: 'union-zj-001' };

function b64(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

/** A token with any header and payload, correctly signed, to prove the checks beyond the signature. */
function forge(header: unknown, payload: unknown, secret = SECRET): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

function reasonOf(token: string, nowMs = NOW_MS): string {
  try {
    verifyJwt(token, SECRET, nowMs);
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).status).toBe(401);
    expect((error as AppError).code).toBe('AUTH.INVALID_TOKEN');
    return (error as AppError).details.reason as string;
  }
  throw new Error('expected the token to be refused');
}

const validPayload = { ...subject, iat: NOW_MS / 1000, exp: NOW_MS / 1000 + 60 };

describe('HS256 JWT', () => {
  it('signs and verifies the claims round trip', () => {
    const token = signJwt(subject, SECRET, { ttlSeconds: 3600, nowMs: NOW_MS });
    expect(verifyJwt(token, SECRET, NOW_MS + 1000)).toEqual({ ...subject, iat: NOW_MS / 1000, exp: NOW_MS / 1000 + 3600 });
    expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString())).toEqual({ alg: 'HS256', typ: 'JWT' });
  });

  it('interoperates with any HS256 implementation (the signature is HMAC-SHA256 over header.payload)', () => {
    expect(verifyJwt(forge({ alg: 'HS256' }, validPayload), SECRET, NOW_MS).sub).toBe('member-1');
  });

  it('refuses a token signed with another secret, or altered after signing', () => {
    expect(reasonOf(signJwt(subject, 'another-secret-another-secret-0123456789', { ttlSeconds: 60, nowMs: NOW_MS }))).toBe('bad signature');
    const [header, , signature] = signJwt(subject, SECRET, { ttlSeconds: 60, nowMs: NOW_MS }).split('.');
    expect(reasonOf(`${header}.${b64({ ...validPayload, role: 'admin' })}.${signature}`)).toBe('bad signature');
    expect(reasonOf(`${header}.${b64(validPayload)}.${signature!.slice(0, 10)}`)).toBe('bad signature');
  });

  it('refuses any algorithm but HS256, including none', () => {
    expect(reasonOf(`${b64({ alg: 'none' })}.${b64(validPayload)}.`)).toBe('malformed');
    expect(reasonOf(`${b64({ alg: 'none' })}.${b64(validPayload)}.AAAA`)).toBe('algorithm must be HS256');
    expect(reasonOf(forge({ alg: 'HS512' }, validPayload))).toBe('algorithm must be HS256');
    expect(reasonOf(forge({ alg: 'RS256' }, validPayload))).toBe('algorithm must be HS256');
  });

  it('refuses expired tokens and tokens issued in the future', () => {
    const token = signJwt(subject, SECRET, { ttlSeconds: 60, nowMs: NOW_MS });
    expect(reasonOf(token, NOW_MS + 60_000)).toBe('expired');
    expect(reasonOf(token, NOW_MS - 61_000 - 1000)).toBe('issued in the future');
  });

  it('refuses malformed tokens and wrong claims', () => {
    expect(reasonOf('abc')).toBe('malformed');
    expect(reasonOf('a.b.c.d')).toBe('malformed');
    expect(reasonOf('a+b.c.d')).toBe('malformed');
    expect(reasonOf(`${'a'.repeat(5000)}.b.c`)).toBe('too long');
    expect(reasonOf(`${b64('not json')}.${b64(validPayload)}.AAAA`)).toBe('header is not JSON');
    expect(reasonOf(forge({ alg: 'HS256' }, [1]))).toBe('payload is not a JSON object');
    expect(reasonOf(forge({ alg: 'HS256' }, { ...validPayload, role: 'root' }))).toBe('unknown role');
    expect(reasonOf(forge({ alg: 'HS256' }, { ...validPayload, sub: '' }))).toBe('sub missing or too long');
    expect(reasonOf(forge({ alg: 'HS256' }, { ...validPayload, org: 7 }))).toBe('org missing or too long');
    expect(reasonOf(forge({ alg: 'HS256' }, { ...validPayload, exp: undefined }))).toBe('exp missing');
    expect(reasonOf(forge({ alg: 'HS256' }, { ...validPayload, iat: '1' }))).toBe('iat missing');
  });

  it('refuses to sign what it would not accept', () => {
    expect(() => signJwt({ ...subject, role: 'root' as 'member' }, SECRET, { ttlSeconds: 60 })).toThrow(TypeError);
    expect(() => signJwt({ ...subject, sub: '' }, SECRET, { ttlSeconds: 60 })).toThrow(TypeError);
    expect(() => signJwt(subject, SECRET, { ttlSeconds: 0 })).toThrow(TypeError);
    expect(() => signJwt(subject, SECRET, { ttlSeconds: 31 * 24 * 3600 })).toThrow(TypeError);
  });
});
