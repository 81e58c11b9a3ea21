import { ACCOUNT_ROLES } from './identity-commands';
import { bool, object, oneOf, optional, str } from '../common/validation';

/** Request bodies, query strings and path parameters of the identity routes (TypeBox schemas, see common/validation.ts). */

const device = optional(str({ min: 1, max: 100, description: 'the device the session belongs to (default: the user agent)' }));

export const wechatLoginSchema = object({ code: str({ min: 1, max: 128, pattern: /^[A-Za-z0-9_-]+$/ }), device });
export const refreshSchema = object({ refreshToken: str({ min: 1, max: 100, pattern: /^[A-Za-z0-9_-]+$/ }) });
export const passwordLoginSchema = object({
  username: str({ min: 1, max: 64 }),
  password: str({ min: 1, max: 200 }),
  totp: optional(str({ min: 6, max: 6, pattern: /^\d{6}$/ })),
  device,
});
export const endSessionsQuery = object({ scope: optional(oneOf(['current', 'all'] as const)) });
export const activationStartSchema = object({ nationalId: str({ min: 15, max: 20, pattern: /^[0-9Xx ]+$/ }), name: str({ min: 1, max: 50 }) });
export const activationConfirmSchema = object({
  challengeId: str({ min: 36, max: 36, pattern: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/ }),
  code: str({ min: 6, max: 6, pattern: /^\d{6}$/ }),
  device,
});
export const accountSchema = object({
  username: str({ min: 3, max: 64, pattern: /^[a-z][a-z0-9._-]*$/ }),
  name: str({ min: 1, max: 50 }),
  orgId: str({ min: 1, max: 64, pattern: /^[A-Za-z0-9][A-Za-z0-9_-]*$/ }),
  role: oneOf(ACCOUNT_ROLES),
  totp: optional(bool()),
});
export const memberParams = object({ memberId: str({ min: 1, max: 64, pattern: /^[0-9a-f-]+$/ }) });
export const rebindSchema = object({ loginKey: str({ min: 64, max: 64, pattern: /^[0-9a-f]{64}$/ }) });
