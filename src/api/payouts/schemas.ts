import { object, str } from '../common/validation';

/** Path parameters of the payouts routes (TypeBox schemas, see common/validation.ts). */

export const reconciliationParams = object({
  /** The business day (Asia/Shanghai) of the gateway's statement. */
  date: str({ min: 10, max: 10, pattern: /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/ }),
});
