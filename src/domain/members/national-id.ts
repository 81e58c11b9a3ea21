/**
 * Checks and masks the two personal fields of the real-name roster: the resident identity card
 * number (GB 11643-1999, 18 characters) and the mainland mobile phone number. Pure functions;
 * every failure is a value with a stable code, never an exception, so an import can report it
 * per row. Messages never repeat the number itself: a report or log line that echoed it would be
 * the very leak the masking exists to prevent.
 */

export type CheckResult = { ok: true; value: string } | { ok: false; code: IdentityErrorCode; message: string };
export type IdentityErrorCode = 'ID.FORMAT' | 'ID.CHECK_DIGIT' | 'ID.BIRTH_DATE' | 'PHONE.FORMAT';

/** Weights of the first 17 digits (2^(17-i) mod 11), GB 11643-1999 / ISO 7064 MOD 11-2. */
const CHECK_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] as const;
/** The check character for each value of (weighted sum mod 11). */
const CHECK_CHARS = '10X98765432';
const ID_SHAPE = /^\d{17}[\dX]$/;
/** Birth years before this are data-entry errors on a roster of working members. */
export const MIN_BIRTH_YEAR = 1900;

/**
 * The canonical form: surrounding whitespace removed and a lower-case check letter upper-cased.
 * The HMAC and the sealed copy are computed over this form, so '...123x' and '...123X ' match.
 */
export function normaliseNationalId(raw: string): string {
  return raw.trim().toUpperCase();
}

/** The check character for 17 leading digits; the caller guarantees they are digits. */
export function nationalIdCheckChar(first17: string): string {
  let sum = 0;
  for (let index = 0; index < CHECK_WEIGHTS.length; index += 1) {
    sum += Number(first17.charCodeAt(index) - 48) * CHECK_WEIGHTS[index]!;
  }
  return CHECK_CHARS[sum % 11]!;
}

function isRealDate(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false;
  const probe = new Date(Date.UTC(year, month - 1, day));
  return probe.getUTCFullYear() === year && probe.getUTCMonth() === month - 1 && probe.getUTCDate() === day;
}

/**
 * Validates an 18-character national ID number. `today` is the caller's clock (a birth date
 * after it is refused); compare in UTC date terms, which is at most a day off Asia/Shanghai and
 * only matters for someone born today.
 */
export function checkNationalId(raw: string, today: Date = new Date()): CheckResult {
  const value = normaliseNationalId(raw);
  if (!ID_SHAPE.test(value)) {
    return { ok: false, code: 'ID.FORMAT', message: 'national ID number must be 17 digits followed by a digit or X' };
  }
  const year = Number(value.slice(6, 10));
  const month = Number(value.slice(10, 12));
  const day = Number(value.slice(12, 14));
  const todayKey = today.getUTCFullYear() * 10_000 + (today.getUTCMonth() + 1) * 100 + today.getUTCDate();
  if (year < MIN_BIRTH_YEAR || !isRealDate(year, month, day) || year * 10_000 + month * 100 + day > todayKey) {
    return { ok: false, code: 'ID.BIRTH_DATE', message: 'national ID number has an impossible birth date' };
  }
  if (nationalIdCheckChar(value) !== value[17]) {
    return { ok: false, code: 'ID.CHECK_DIGIT', message: 'national ID check digit is wrong' };
  }
  return { ok: true, value };
}

/**
 * '320102199001011234' → '320102********1234': the region code and the last four stay, the
 * birth date and sequence are hidden (the form the field platforms publish). Anything not
 * 18 characters long is masked entirely, so a malformed input cannot leak through the mask.
 */
export function maskNationalId(raw: string): string {
  const value = normaliseNationalId(raw);
  if (value.length !== 18) return '*'.repeat(Math.min(value.length, 18));
  return `${value.slice(0, 6)}********${value.slice(14)}`;
}

const MOBILE = /^1[3-9]\d{9}$/;

/** Removes spaces and dashes and an optional +86 / 0086 country prefix. */
export function normalisePhone(raw: string): string {
  const compact = raw.replace(/[\s-]/g, '');
  const withoutPrefix = compact.replace(/^(?:\+86|0086)/, '');
  return withoutPrefix;
}

/** A mainland mobile number: 11 digits starting 13-19. */
export function checkPhone(raw: string): CheckResult {
  const value = normalisePhone(raw);
  if (!MOBILE.test(value)) {
    return { ok: false, code: 'PHONE.FORMAT', message: 'phone must be a mainland mobile number (11 digits starting 13-19, optional +86)' };
  }
  return { ok: true, value };
}

/** '13812345678' → '138****5678'; anything else is masked entirely. */
export function maskPhone(raw: string): string {
  const value = normalisePhone(raw);
  if (value.length !== 11) return '*'.repeat(Math.min(value.length, 11));
  return `${value.slice(0, 3)}****${value.slice(7)}`;
}
