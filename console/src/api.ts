/**
 * The console's only way to the service: same-origin fetch with the session's bearer token. The
 * token lives in sessionStorage (gone when the tab closes), never in a URL; writes carry an
 * Idempotency-Key, so a double click or a retry has one effect.
 */

export interface Session {
  accessToken: string;
  refreshToken: string | null;
  role: string;
  org: string;
  subject: string;
  username: string;
  expiresAtMs: number;
}

const KEY = 'union-ledger.console.session';

export function loadSession(): Session | null {
  const text = sessionStorage.getItem(KEY);
  if (!text) return null;
  try {
    return JSON.parse(text) as Session;
  } catch {
    return null;
  }
}

export function saveSession(session: Session | null): void {
  if (session) sessionStorage.setItem(KEY, JSON.stringify(session));
  else sessionStorage.removeItem(KEY);
}

/** An answer other than 2xx: the service's stable error code and message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type Listener = () => void;
const expiredListeners = new Set<Listener>();
/** The app logs out when the token is refused (expired or revoked). */
export function onSessionExpired(listener: Listener): () => void {
  expiredListeners.add(listener);
  return () => expiredListeners.delete(listener);
}

/** Refreshes the access token once when it is about to run out (15 minutes), with the refresh token. */
async function freshToken(session: Session): Promise<string> {
  if (session.expiresAtMs - Date.now() > 60_000 || !session.refreshToken) return session.accessToken;
  const answer = await fetch('/v1/sessions/refresh', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ refreshToken: session.refreshToken }),
  });
  if (!answer.ok) return session.accessToken;
  const body = (await answer.json()) as { accessToken: string; refreshToken: string | null; expiresInSeconds: number };
  const next = { ...session, accessToken: body.accessToken, refreshToken: body.refreshToken, expiresAtMs: Date.now() + body.expiresInSeconds * 1000 };
  saveSession(next);
  return next.accessToken;
}

export interface CallOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  body?: unknown;
  /** Writes: the Idempotency-Key (default: a new one per call). */
  key?: string;
  /** Answer as text (CSV, SVG) or bytes (XLSX) instead of JSON. */
  as?: 'json' | 'text' | 'blob';
}

export async function api<T = Record<string, unknown>>(path: string, options: CallOptions = {}): Promise<T> {
  const session = loadSession();
  const method = options.method ?? 'GET';
  const headers: Record<string, string> = {};
  if (session) headers.authorization = `Bearer ${await freshToken(session)}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') headers['idempotency-key'] = options.key ?? crypto.randomUUID();
  const answer = await fetch(path, { method, headers, ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}) });
  if (!answer.ok) {
    let code = `HTTP.${answer.status}`;
    let message = answer.statusText;
    try {
      const body = (await answer.json()) as { code?: string; message?: string };
      code = body.code ?? code;
      message = body.message ?? message;
    } catch {
      // Not JSON: the status says enough.
    }
    if (answer.status === 401 && session) {
      // Expired or revoked beyond refreshing: forget it, so a reload shows the log-in page too.
      saveSession(null);
      for (const listener of expiredListeners) listener();
    }
    throw new ApiError(answer.status, code, message);
  }
  if (options.as === 'text') return (await answer.text()) as T;
  if (options.as === 'blob') return (await answer.blob()) as T;
  return (await answer.json()) as T;
}

/** Password log-in (admins, finance approvers, auditors); the TOTP code when the account has one. */
export async function logIn(username: string, password: string, totp: string | undefined): Promise<Session> {
  const answer = await fetch('/v1/sessions/password', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password, ...(totp ? { totp } : {}), device: 'console' }),
  });
  const body = (await answer.json()) as Record<string, unknown>;
  if (!answer.ok) throw new ApiError(answer.status, String(body.code ?? 'HTTP.' + answer.status), String(body.message ?? ''));
  const session: Session = {
    accessToken: String(body.accessToken),
    refreshToken: (body.refreshToken as string | null) ?? null,
    role: String(body.role),
    org: String(body.org),
    subject: String(body.subject),
    username,
    expiresAtMs: Date.now() + Number(body.expiresInSeconds) * 1000,
  };
  saveSession(session);
  return session;
}

export async function logOut(): Promise<void> {
  try {
    await api('/v1/sessions', { method: 'DELETE' });
  } catch {
    // Logged out locally either way.
  }
  saveSession(null);
}

/** Saves a fetched file (a report) under its name, without putting the token in a URL. */
export function download(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
