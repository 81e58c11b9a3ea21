/** The SMS context's worker: sends requested one-time codes through the SMS gateway, exactly once. */
export { SMS_CONCURRENCY, smsWorker } from './sms-worker';
