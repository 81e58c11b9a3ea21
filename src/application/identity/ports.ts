/**
 * The identity context's ports to the outside: WeChat's code2session and an SMS gateway. The
 * adapters speak HTTP (src/infra/wechat-client.ts, src/infra/sms-client.ts); the quick start and
 * the tests run them against real HTTP simulators (src/infra/simulators/), never in-process mocks.
 */

export interface WeChatSession {
  openid: string;
}

export interface WeChatPort {
  /** Exchanges a mini-program login code for the user's openid; throws ExternalServiceError when WeChat refuses or is down. */
  code2session(code: string): Promise<WeChatSession>;
}

export interface SmsPort {
  /** Sends a one-time code to a phone number; throws ExternalServiceError when the gateway refuses or is down. */
  sendCode(phone: string, code: string, expiresInMinutes: number): Promise<void>;
}

/** A dependency outside the ledger refused or did not answer. */
export class ExternalServiceError extends Error {
  constructor(
    readonly service: 'wechat' | 'sms',
    message: string,
    /** True when the caller's input was refused (an invalid WeChat code), false when the service failed. */
    readonly refused: boolean,
  ) {
    super(message);
    this.name = 'ExternalServiceError';
  }
}
