import fc from 'fast-check';
import { periodsOf, previousDay } from './calendar';

const at = (iso: string): Date => new Date(iso);

describe('periodsOf: the natural day is the Asia/Shanghai day (UTC+8, no daylight saving time)', () => {
  it.each([
    ['2026-11-23T15:59:59.999Z', '2026-11-23'],
    ['2026-11-23T16:00:00.000Z', '2026-11-24'],
    ['2026-11-23T00:00:00.000Z', '2026-11-23'],
    ['2026-11-22T16:00:00.000Z', '2026-11-23'],
    ['2026-12-31T15:59:59.999Z', '2026-12-31'],
    ['2026-12-31T16:00:00.000Z', '2027-01-01'],
    ['2024-02-28T16:00:00.000Z', '2024-02-29'],
    ['1991-07-01T12:00:00.000Z', '1991-07-01'],
  ])('places %s on Shanghai day %s', (iso, day) => {
    expect(periodsOf(at(iso)).day).toBe(day);
  });

  it('puts 23:59 and 00:01 Shanghai time on two consecutive days', () => {
    expect(periodsOf(at('2026-11-23T23:59:00+08:00')).day).toBe('2026-11-23');
    expect(periodsOf(at('2026-11-24T00:01:00+08:00')).day).toBe('2026-11-24');
  });

  it('moves the month and the year at Shanghai midnight, not UTC midnight', () => {
    expect(periodsOf(at('2026-12-31T16:00:00Z'))).toEqual({ day: '2027-01-01', week: '2026-W53', month: '2027-01', year: '2027' });
    expect(periodsOf(at('2026-12-31T15:59:59Z'))).toEqual({ day: '2026-12-31', week: '2026-W53', month: '2026-12', year: '2026' });
    expect(periodsOf(at('2026-11-30T16:00:00Z')).month).toBe('2026-12');
  });
});

describe('periodsOf: ISO 8601 weeks belong to the year of their Thursday', () => {
  /** Noon in Shanghai on the given local date, far from any day boundary. */
  const noon = (day: string): Date => at(`${day}T12:00:00+08:00`);

  it.each([
    ['2020-12-31', '2020-W53'],
    ['2021-01-01', '2020-W53'],
    ['2021-01-03', '2020-W53'],
    ['2021-01-04', '2021-W01'],
    ['2024-12-29', '2024-W52'],
    ['2024-12-30', '2025-W01'],
    ['2025-01-01', '2025-W01'],
    ['2026-01-01', '2026-W01'],
    ['2026-11-23', '2026-W48'],
    ['2026-12-31', '2026-W53'],
    ['2027-01-03', '2026-W53'],
    ['2027-01-04', '2027-W01'],
    ['2008-12-29', '2009-W01'],
    ['2010-01-03', '2009-W53'],
  ])('puts %s in %s', (day, week) => {
    expect(periodsOf(noon(day)).week).toBe(week);
  });

  it('starts a new week on Monday at Shanghai midnight (Sunday 16:00 UTC)', () => {
    expect(periodsOf(at('2026-11-22T15:59:59Z')).week).toBe('2026-W47'); // Sunday 23:59:59 in Shanghai
    expect(periodsOf(at('2026-11-22T16:00:00Z')).week).toBe('2026-W48'); // Monday 00:00 in Shanghai
  });

  it('agrees with a day-by-day count of Mondays over 2000-2040', () => {
    // Walk day by day: the week number rises by one every Monday, and resets to W01 on the Monday
    // of the week that contains 4 January.
    let day = Date.UTC(2000, 0, 3); // Monday of 2000-W01
    let weekYear = 2000;
    let week = 1;
    for (let index = 0; index < 41 * 366; index += 1, day += 86_400_000) {
      const date = new Date(day);
      if (date.getUTCDay() === 1 && index > 0) {
        const thursday = new Date(day + 3 * 86_400_000);
        if (thursday.getUTCFullYear() !== weekYear) {
          weekYear = thursday.getUTCFullYear();
          week = 1;
        } else {
          week += 1;
        }
      }
      const expected = `${weekYear}-W${String(week).padStart(2, '0')}`;
      const local = new Date(day + 4 * 3_600_000); // 12:00 in Shanghai
      if (periodsOf(local).week !== expected) {
        throw new Error(`${date.toISOString().slice(0, 10)}: ${periodsOf(local).week} !== ${expected}`);
      }
    }
  });
});

describe('previousDay', () => {
  it.each([
    ['2026-11-24', '2026-11-23'],
    ['2026-12-01', '2026-11-30'],
    ['2026-03-01', '2026-02-28'],
    ['2024-03-01', '2024-02-29'],
    ['2000-03-01', '2000-02-29'],
    ['1900-03-01', '1900-02-28'],
    ['2027-01-01', '2026-12-31'],
    ['2026-05-01', '2026-04-30'],
  ])('the day before %s is %s', (day, before) => {
    expect(previousDay(day)).toBe(before);
  });

  it('is the Shanghai day 24 hours earlier, for any instant', () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(1992, 0, 1), max: Date.UTC(2100, 0, 1) }), (ms) => {
        expect(previousDay(periodsOf(new Date(ms)).day)).toBe(periodsOf(new Date(ms - 86_400_000)).day);
      }),
      { numRuns: 2000 },
    );
  });
});
