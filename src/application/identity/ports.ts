/**
 * The identity context's port to WeChat's code2session. The adapter speaks HTTP
 * (src/infra/external-http.ts); the quick start and the tests run it against a real HTTP
 * simulator (src/infra/simulators/), never an in-process mock. Activation codes go by SMS through
 * the SMS context (src/application/sms), which owns the SMS gateway's port.
 */

export interface WeChatSession {
  openid: string;
}

export interface WeChatPort {
  /** Exchanges a mini-program login code for the user's openid; throws ExternalServiceError when WeChat refuses or is down. */
  code2session(code: string): Promise<WeChatSession>;
}

/** A dependency outside the ledger refused or did not answer. */
export class ExternalServiceError extends Error {
  constructor(
    readonly service: 'wechat',
    message: string,
    /** True when the caller's input was refused (an invalid WeChat code), false when the service failed. */
    readonly refused: boolean,
  ) {
    super(message);
    this.name = 'ExternalServiceError';
  }
}
