import fc from 'fast-check';
import { DomainError } from '../shared';
import { luhnValid, maskBankCard, normaliseBankCard } from '.';

/** The Luhn check digit that completes `body`, computed here the textbook way (double every second digit from the right of the full number). */
function checkDigit(body: string): string {
  let sum = 0;
  [...body].reverse().forEach((char, index) => {
    const digit = Number(char) * (index % 2 === 0 ? 2 : 1);
    sum += digit > 9 ? digit - 9 : digit;
  });
  return String((10 - (sum % 10)) % 10);
}
const card = (body: string): string => body + checkDigit(body);

/** Real-shaped numbers: a UnionPay debit card (19 digits, 6222…) and a 16-digit one (6212…). */
const UNIONPAY_19 = card('622202123456789012');
const UNIONPAY_16 = card('621226123412341');

function refusal(text: string): string {
  try {
    normaliseBankCard(text);
    return 'accepted';
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    return error.code;
  }
}

describe('luhnValid', () => {
  it('accepts the published test numbers and the numbers completed with their check digit', () => {
    for (const number of ['4111111111111111', '5555555555554444', '79927398713', UNIONPAY_19, UNIONPAY_16]) expect(luhnValid(number)).toBe(true);
    expect(UNIONPAY_19).toHaveLength(19);
    expect(UNIONPAY_16).toHaveLength(16);
  });

  it('catches every single wrong digit and the swap of two adjacent different digits', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\d{15,18}$/), fc.nat(), fc.integer({ min: 1, max: 9 }), (body, at, shift) => {
        const valid = card(body);
        const index = at % valid.length;
        const wrong = valid.slice(0, index) + String((Number(valid[index]) + shift) % 10) + valid.slice(index + 1);
        expect(luhnValid(valid)).toBe(true);
        expect(luhnValid(wrong)).toBe(false);
        const swapAt = index === valid.length - 1 ? index - 1 : index;
        const [a, b] = [valid[swapAt]!, valid[swapAt + 1]!];
        // Luhn misses only the swap of 0 and 9.
        if (a !== b && !(a + b === '09' || a + b === '90')) {
          expect(luhnValid(valid.slice(0, swapAt) + b + a + valid.slice(swapAt + 2))).toBe(false);
        }
      }),
    );
  });
});

describe('normaliseBankCard', () => {
  it("keeps the digits of a card reader's spaced or dashed number", () => {
    expect(normaliseBankCard(UNIONPAY_19)).toBe(UNIONPAY_19);
    expect(normaliseBankCard(UNIONPAY_19.replace(/(\d{4})(?=\d)/g, '$1 '))).toBe(UNIONPAY_19);
    expect(normaliseBankCard(UNIONPAY_16.replace(/(\d{4})(?=\d)/g, '$1-'))).toBe(UNIONPAY_16);
  });

  it('refuses a wrong check digit, a wrong length or other characters as BANK_CARD.INVALID', () => {
    const wrongDigit = UNIONPAY_19.slice(0, -1) + String((Number(UNIONPAY_19.slice(-1)) + 1) % 10);
    const fifteen = card('62220212345678');
    const twenty = card('6222021234567890123');
    expect([wrongDigit, fifteen, twenty, `${UNIONPAY_16}x`, '', 'abcd efgh ijkl mnop', '６２２２０２１２３４５６７８９０１２３'].map(refusal)).toEqual(Array(7).fill('BANK_CARD.INVALID'));
    expect([fifteen, twenty].map(luhnValid)).toEqual([true, true]);
  });
});

describe('maskBankCard', () => {
  it('shows the issuer prefix and the last four digits only', () => {
    expect(maskBankCard(UNIONPAY_19)).toBe(`6222 **** **** ${UNIONPAY_19.slice(-4)}`);
    expect(maskBankCard(card('622212341234123'))).toMatch(/^6222 \*\*\*\* \*\*\*\* 123\d$/);
    expect(maskBankCard('6222021234567890123')).toBe('6222 **** **** 0123');
  });
});
