import { DomainError } from '../shared';

/**
 * Bank card numbers (wallets and merchants are bound to one). Checked with the Luhn digit and
 * the lengths China UnionPay and the international schemes issue (16 to 19 digits; a card
 * reader's spaces and dashes are ignored). The number itself is personal data: the application
 * keeps only an HMAC (to recognise the card) and a sealed copy in the personal-data vault, and
 * shows the masked form.
 */

const MIN_DIGITS = 16;
const MAX_DIGITS = 19;

/** Digits only, or a BANK_CARD.INVALID refusal. */
export function normaliseBankCard(text: string): string {
  const digits = text.replace(/[\s-]/g, '');
  if (!/^\d+$/.test(digits) || digits.length < MIN_DIGITS || digits.length > MAX_DIGITS) {
    throw new DomainError('BANK_CARD.INVALID', `a bank card number has ${MIN_DIGITS} to ${MAX_DIGITS} digits`, 400);
  }
  if (!luhnValid(digits)) throw new DomainError('BANK_CARD.INVALID', 'the bank card number fails its check digit', 400);
  return digits;
}

/** The Luhn (mod 10) check that every issuer's card number satisfies. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let index = 0; index < digits.length; index += 1) {
    let digit = digits.charCodeAt(digits.length - 1 - index) - 48;
    if (index % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/** "6222021234567890123" → "6222 **** **** 0123": the issuer prefix and the last four only. */
export function maskBankCard(digits: string): string {
  return `${digits.slice(0, 4)} **** **** ${digits.slice(-4)}`;
}
