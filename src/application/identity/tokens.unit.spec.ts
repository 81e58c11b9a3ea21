import { createHmac } from 'node:crypto';
import { InvalidTokenError, signingKey, TOKEN_AUDIENCE, TOKEN_ISSUER, TokenService } from './tokens';

const SECRET = 'unit-test-secret-unit-test-secret-0123456789';
const PREVIOUS = 'the-previous-secret-the-previous-secret-01';
const NOW_MS = 1_750_000_000_000;
const NOW = NOW_MS / 1000;
const subject = { sub: 'member-1', role: 'member' as const, org: 'union-zj-001' };
const tokens = new TokenService([signingKey(SECRET)]);
const kid = signingKey(SECRET).kid;

function b64(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

/** A token with any header and payload, correctly signed, to prove the checks beyond the signature. */
function forge(header: unknown, payload: unknown, secret = SECRET): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

async function reasonOf(token: string, nowMs = NOW_MS, service = tokens): Promise<string> {
  try {
    await service.verify(token, nowMs);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidTokenError);
    return (error as InvalidTokenError).reason;
  }
  throw new Error('expected the token to be refused');
}

const header = { alg: 'HS256', typ: 'JWT', kid };
const claims = { ...subject, iss: TOKEN_ISSUER, aud: TOKEN_AUDIENCE, iat: NOW, nbf: NOW, exp: NOW + 60 };

describe('bearer tokens (jose)', () => {
  it('keeps audiences apart: a token for another audience does not open the API, nor an API token the other', async () => {
    const other = await tokens.sign(subject, { ttlSeconds: 900, nowMs: NOW_MS, audience: 'union-ledger-queue-dashboard' });
    expect(await tokens.verify(other, NOW_MS, 'union-ledger-queue-dashboard')).toEqual({ ...subject, iat: NOW, exp: NOW + 900 });
    expect(await reasonOf(other)).toBe('aud check_failed');
    const api = await tokens.sign(subject, { ttlSeconds: 900, nowMs: NOW_MS });
    await expect(tokens.verify(api, NOW_MS, 'union-ledger-queue-dashboard')).rejects.toMatchObject({ reason: 'aud check_failed' });
  });

  it('signs and verifies the claims round trip, naming the key', async () => {
    const token = await tokens.sign({ ...subject, sid: 'family-1' }, { ttlSeconds: 900, nowMs: NOW_MS });
    expect(await tokens.verify(token, NOW_MS + 1000)).toEqual({ ...subject, sid: 'family-1', iat: NOW, exp: NOW + 900 });
    expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString())).toEqual({ alg: 'HS256', typ: 'JWT', kid });
  });

  it('interoperates with any HS256 implementation (HMAC-SHA256 over header.payload)', async () => {
    expect((await tokens.verify(forge(header, claims), NOW_MS)).sub).toBe('member-1');
  });

  it('rotates keys: the first signs, earlier ones still verify until removed, unknown key ids are refused', async () => {
    const old = await new TokenService([signingKey(PREVIOUS)]).sign(subject, { ttlSeconds: 60, nowMs: NOW_MS });
    const rotated = new TokenService([signingKey(SECRET), signingKey(PREVIOUS)]);
    expect((await rotated.verify(old, NOW_MS)).sub).toBe('member-1');
    expect(await reasonOf(old)).toBe('unknown key id');
    expect(await reasonOf(forge({ alg: 'HS256' }, claims))).toBe('unknown key id');
  });

  it('refuses a token signed with another secret under the same key id, or altered after signing', async () => {
    expect(await reasonOf(forge(header, claims, 'another-secret-another-secret-0123456789'))).toBe('bad signature');
    const [head, , signature] = (await tokens.sign(subject, { ttlSeconds: 60, nowMs: NOW_MS })).split('.');
    expect(await reasonOf(`${head}.${b64({ ...claims, role: 'admin' })}.${signature}`)).toBe('bad signature');
  });

  it('refuses any algorithm but HS256, including none', async () => {
    expect(await reasonOf(`${b64({ alg: 'none', kid })}.${b64(claims)}.`)).not.toBe('');
    expect(await reasonOf(forge({ alg: 'HS512', kid }, claims))).toBe('algorithm must be HS256');
  });

  it('checks exp, nbf, iat, issuer and audience, and refuses lifetimes longer than it ever issues', async () => {
    const token = await tokens.sign(subject, { ttlSeconds: 60, nowMs: NOW_MS });
    expect(await reasonOf(token, NOW_MS + 60_000 + 61_000)).toBe('expired');
    // The issue's case: a token not valid before 3,000 s from now.
    expect(await reasonOf(forge(header, { ...claims, nbf: NOW + 3000, exp: NOW + 6000 }))).toBe('nbf check_failed');
    expect(await reasonOf(forge(header, { ...claims, iat: NOW + 3000, nbf: NOW - 10, exp: NOW + 6000 }))).toBe('issued in the future');
    expect(await reasonOf(forge(header, { ...claims, iss: 'someone-else' }))).toBe('iss check_failed');
    expect(await reasonOf(forge(header, { ...claims, aud: 'another-api' }))).toBe('aud check_failed');
    // The issue's other case: validly signed, living ten years.
    expect(await reasonOf(forge(header, { ...claims, exp: NOW + 10 * 365 * 24 * 3600 }))).toBe('lifetime longer than allowed');
    expect(await reasonOf(forge(header, { ...claims, nbf: undefined }))).toBe('nbf missing');
  });

  it('refuses malformed tokens and wrong claims', async () => {
    expect(await reasonOf('abc')).toBe('malformed');
    expect(await reasonOf(`${'a'.repeat(5000)}.b.c`)).toBe('too long');
    expect(await reasonOf(forge(header, { ...claims, role: 'root' }))).toBe('unknown role');
    expect(await reasonOf(forge(header, { ...claims, sub: '' }))).toBe('sub missing or too long');
    expect(await reasonOf(forge(header, { ...claims, org: 7 }))).toBe('org missing or too long');
  });

  it('refuses to sign what it would not accept', async () => {
    await expect(tokens.sign({ ...subject, role: 'root' as 'member' }, { ttlSeconds: 60 })).rejects.toThrow(TypeError);
    await expect(tokens.sign({ ...subject, sub: '' }, { ttlSeconds: 60 })).rejects.toThrow(TypeError);
    await expect(tokens.sign(subject, { ttlSeconds: 0 })).rejects.toThrow(TypeError);
    await expect(tokens.sign(subject, { ttlSeconds: 31 * 24 * 3600 })).rejects.toThrow(TypeError);
  });
});
