import fc from 'fast-check';
import {
  checkNationalId,
  checkPhone,
  maskNationalId,
  maskPhone,
  nationalIdCheckChar,
  normaliseNationalId,
} from './national-id';

/**
 * Test IDs are synthesised: 17 chosen digits plus the check character computed here by the
 * standard's own arithmetic (independently of the code under test), so no real person's number
 * appears in the repository.
 */
function checkCharByHand(first17: string): string {
  let sum = 0;
  for (let index = 0; index < 17; index += 1) sum += Number(first17[index]) * (2 ** (17 - index) % 11);
  return '10X98765432'[sum % 11]!;
}
const makeId = (region: string, birth: string, sequence: string): string => {
  const first17 = `${region}${birth}${sequence}`;
  expect(first17).toMatch(/^\d{17}$/);
  return first17 + checkCharByHand(first17);
};
/** Finds a sequence number whose check character is X, to cover the letter. */
function idEndingInX(): string {
  for (let sequence = 0; sequence < 1000; sequence += 1) {
    const id = makeId('320102', '19900101', String(sequence).padStart(3, '0'));
    if (id.endsWith('X')) return id;
  }
  throw new Error('no X check character in 1000 sequence numbers');
}

const TODAY = new Date('2026-03-15T04:00:00Z');

describe('national ID (GB 11643-1999)', () => {
  it('accepts a well-formed number and returns the canonical form', () => {
    const id = makeId('320102', '19900101', '123');
    expect(checkNationalId(id, TODAY)).toEqual({ ok: true, value: id });
  });

  it('normalises a lower-case x and surrounding whitespace', () => {
    const id = idEndingInX();
    expect(checkNationalId(`  ${id.slice(0, 17)}x\t`, TODAY)).toEqual({ ok: true, value: id });
    expect(normaliseNationalId(` ${id.toLowerCase()} `)).toBe(id);
  });

  it.each([
    ['too short', '32010219900101123'],
    ['too long', '3201021990010112345'],
    ['a letter among the digits', '3201021990A1011234'],
    ['X in the middle', '32010219900X011234'],
    ['empty', ''],
    ['a 15-digit first-generation number', '320102900101123'],
  ])('refuses %s with ID.FORMAT', (_label, raw) => {
    expect(checkNationalId(raw, TODAY)).toMatchObject({ ok: false, code: 'ID.FORMAT' });
  });

  it('refuses a wrong check character with ID.CHECK_DIGIT', () => {
    const id = makeId('320102', '19900101', '123');
    const wrong = id.slice(0, 17) + (id[17] === '0' ? '1' : '0');
    expect(checkNationalId(wrong, TODAY)).toMatchObject({ ok: false, code: 'ID.CHECK_DIGIT', message: 'national ID check digit is wrong' });
  });

  it.each([
    ['30 February', '19900230'],
    ['month 13', '19901301'],
    ['day 00', '19900100'],
    ['29 February of a non-leap year', '19000229'],
    ['before 1900', '18991231'],
    ['after today', '20260316'],
  ])('refuses %s with ID.BIRTH_DATE', (_label, birth) => {
    expect(checkNationalId(makeId('320102', birth, '123'), TODAY)).toMatchObject({ ok: false, code: 'ID.BIRTH_DATE' });
  });

  it('accepts 29 February of a leap year and a birth date of today', () => {
    expect(checkNationalId(makeId('110101', '20000229', '001'), TODAY).ok).toBe(true);
    expect(checkNationalId(makeId('110101', '20260315', '001'), TODAY).ok).toBe(true);
  });

  it('computes the same check character as the standard for any 17 digits', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\d{17}$/), (first17) => {
        expect(nationalIdCheckChar(first17)).toBe(checkCharByHand(first17));
      }),
    );
  });

  it('catches every single-digit typo (the point of MOD 11-2)', () => {
    const id = makeId('440305', '19851120', '456');
    for (let position = 0; position < 17; position += 1) {
      for (let digit = 0; digit <= 9; digit += 1) {
        if (String(digit) === id[position]) continue;
        const typo = id.slice(0, position) + digit + id.slice(position + 1);
        expect(checkNationalId(typo, TODAY).ok).toBe(false);
      }
    }
  });

  it('masks to region + 8 asterisks + last four, and masks malformed input entirely', () => {
    expect(maskNationalId('320102199001011234')).toBe('320102********1234');
    expect(maskNationalId(' 32010219900101123x ')).toBe('320102********123X');
    expect(maskNationalId('12345')).toBe('*****');
    expect(maskNationalId('9'.repeat(40))).toBe('*'.repeat(18));
  });

  it('never puts the birth date or sequence in a message', () => {
    const id = makeId('320102', '19900230', '777');
    for (const raw of [id, id.slice(0, 17) + '0', id.slice(0, 10)]) {
      const result = checkNationalId(raw, TODAY);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.message).not.toMatch(/\d{4,}/);
    }
  });
});

describe('mobile phone', () => {
  it.each([
    ['13812345678', '13812345678'],
    ['+86 138 1234 5678', '13812345678'],
    ['+86-138-1234-5678', '13812345678'],
    ['0086 19912345678', '19912345678'],
  ])('accepts %s as %s', (raw, value) => {
    expect(checkPhone(raw)).toEqual({ ok: true, value });
  });

  it.each([['12812345678'], ['1381234567'], ['138123456789'], ['138-1234-567a'], ['+1 13812345678'], ['']])(
    'refuses %s with PHONE.FORMAT',
    (raw) => {
      expect(checkPhone(raw)).toMatchObject({ ok: false, code: 'PHONE.FORMAT' });
    },
  );

  it('masks the middle four digits', () => {
    expect(maskPhone('13812345678')).toBe('138****5678');
    expect(maskPhone('+86 138 1234 5678')).toBe('138****5678');
    expect(maskPhone('123')).toBe('***');
  });
});
