/** The SMS context: one-time codes and other messages the ledger owes members, each sent exactly once. */
export {
  MAX_MESSAGE_ID_LENGTH,
  MAX_SEALED_CODE_LENGTH,
  SMS_FAILURE_REASONS,
  SMS_TEMPLATES,
  decideSms,
  evolveSms,
  initialSmsState,
  smsExpired,
  smsStream,
  type SmsCommand,
  type SmsEvent,
  type SmsFailureReason,
  type SmsState,
  type SmsStatus,
  type SmsTemplate,
} from './sms-request';
