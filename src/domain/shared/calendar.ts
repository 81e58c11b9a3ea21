/**
 * Calendar periods in Asia/Shanghai, where the platforms' "natural day" is. China has had no
 * daylight saving time since 1991, so local time is always UTC+8 and no time-zone database is needed.
 */
const SHANGHAI_OFFSET_MS = 8 * 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface Periods {
  /** 2026-11-23 */
  day: string;
  /** ISO week: 2026-W48 */
  week: string;
  /** 2026-11 */
  month: string;
  /** 2026 */
  year: string;
}

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0');
}

/** The local calendar date in Shanghai as a UTC-midnight Date, for date arithmetic. */
function shanghaiDate(at: Date): Date {
  const local = new Date(at.getTime() + SHANGHAI_OFFSET_MS);
  return new Date(Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate()));
}

function isoWeek(date: Date): string {
  // ISO 8601: the week belongs to the year of its Thursday.
  const weekday = (date.getUTCDay() + 6) % 7; // Monday = 0
  const thursday = new Date(date.getTime() + (3 - weekday) * DAY_MS);
  const firstThursday = new Date(Date.UTC(thursday.getUTCFullYear(), 0, 4));
  const firstWeekday = (firstThursday.getUTCDay() + 6) % 7;
  const weekOneMonday = firstThursday.getTime() - firstWeekday * DAY_MS;
  const week = 1 + Math.floor((thursday.getTime() - weekOneMonday) / (7 * DAY_MS));
  return `${thursday.getUTCFullYear()}-W${pad(week)}`;
}

export function periodsOf(at: Date): Periods {
  const date = shanghaiDate(at);
  const year = date.getUTCFullYear();
  const month = `${year}-${pad(date.getUTCMonth() + 1)}`;
  return { day: `${month}-${pad(date.getUTCDate())}`, week: isoWeek(date), month, year: String(year) };
}

/** The Shanghai day before `day` (YYYY-MM-DD). */
export function previousDay(day: string): string {
  const [year, month, date] = day.split('-').map(Number) as [number, number, number];
  const previous = new Date(Date.UTC(year, month - 1, date) - DAY_MS);
  return `${previous.getUTCFullYear()}-${pad(previous.getUTCMonth() + 1)}-${pad(previous.getUTCDate())}`;
}
