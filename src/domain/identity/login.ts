import { DomainError } from '../shared';

/**
 * A WeChat login (stream `login-<loginKey>`, where the key is an HMAC of the mini-program openid,
 * so the openid itself is stored nowhere) bound to at most one member. The stream is the
 * reservation that makes "one member per openid" hold under concurrent activations: a login is
 * claimed with the stream's expected revision before the member is activated, and released again
 * if that activation is refused. The member's own stream holds the other direction ("one login per
 * member", `LoginBound`).
 */

export type LoginEvent =
  | { type: 'LoginClaimed'; data: { loginKey: string; memberId: string; byAdminId: string | null } }
  | { type: 'LoginReleased'; data: { loginKey: string; memberId: string; reason: 'activation-refused' | 'rebound' } };

export interface LoginState {
  loginKey: string;
  memberId: string | null;
}

export const loginStream = (loginKey: string): string => `login-${loginKey}`;
export const initialLoginState: LoginState = { loginKey: '', memberId: null };

export function evolveLogin(state: LoginState, event: LoginEvent): LoginState {
  switch (event.type) {
    case 'LoginClaimed':
      return { loginKey: event.data.loginKey, memberId: event.data.memberId };
    case 'LoginReleased':
      return { ...state, memberId: null };
    default: {
      const unknown: never = event;
      throw new Error(`unknown login event ${(unknown as { type: string }).type}`);
    }
  }
}

/** Claims the login for a member; claiming it again for the same member changes nothing. */
export function claimLogin(state: LoginState, loginKey: string, memberId: string, byAdminId: string | null): LoginEvent[] {
  if (state.memberId === memberId) return [];
  if (state.memberId !== null) throw new DomainError('LOGIN.TAKEN', 'this WeChat account is already bound to another member', 409);
  return [{ type: 'LoginClaimed', data: { loginKey, memberId, byAdminId } }];
}

/** Releases the member's claim (their activation was refused, or an admin bound them elsewhere). */
export function releaseLogin(state: LoginState, memberId: string, reason: 'activation-refused' | 'rebound'): LoginEvent[] {
  if (state.memberId !== memberId) return [];
  return [{ type: 'LoginReleased', data: { loginKey: state.loginKey, memberId, reason } }];
}
