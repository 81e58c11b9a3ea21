/** The identity context's use cases: tokens, sessions, activation that proves possession of the roster's phone. */
export { ACCESS_TOKEN_TTL_SECONDS, InvalidTokenError, MAX_TOKEN_TTL_SECONDS, ROLES, TOKEN_AUDIENCE, TOKEN_ISSUER, TokenService, signingKey, type Role, type SigningKey, type TokenClaims, type TokenSubject } from './tokens';
export { REFRESH_RETRY_GRACE_SECONDS, REFRESH_TOKEN_TTL_SECONDS, SessionService, type SessionSubject, type SessionTokens } from './sessions';
export { REVOCATION_SYNC_MS, SessionRevocations } from './revocations';
export { ActivationService, CODE_TTL_SECONDS, MAX_CODE_ATTEMPTS, MAX_STARTS_PER_HOUR, RESEND_AFTER_SECONDS, type ActivationStarted } from './activation';
export { ExternalServiceError, type WeChatPort, type WeChatSession } from './ports';
export { IDENTITY_MIGRATIONS } from './schema';
export { ACCOUNT_ROLES, AccountService, LOCKOUT_SECONDS, MAX_FAILED_LOGINS, type Account, type AccountRole, type NewAccount } from './accounts';
