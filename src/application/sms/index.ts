/** The SMS context's use cases: the SMS gateway port, requesting a one-time code durably, and sending it exactly once. */
export {
  SMS_ACTOR,
  SMS_CODE_PURPOSE,
  SmsJobInvalidError,
  SmsNotSentError,
  SmsService,
  smsOutcomeCommandId,
  type CodeRequest,
  type SmsEffectRef,
  type SmsOutcome,
  type SmsServiceDeps,
} from './sms-service';
export { SmsGatewayError, type SmsAnswer, type SmsGatewayPort, type SmsMessage } from './ports';
