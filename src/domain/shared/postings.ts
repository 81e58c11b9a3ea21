import { invariant } from './errors';

/**
 * Double entry, shared by every context that moves value. A posting moves a positive whole
 * amount of one asset from a debit account to a credit account; an event's postings and the whole
 * ledger sum to zero per asset. Points and money never share an account: an account holds one
 * asset only (verify checks it), so a trial balance can never add yuan to points.
 */

export const ASSETS = ['POINTS', 'CNY_FEN'] as const;
/** POINTS: whole points. CNY_FEN: whole fen (1/100 yuan); yuan text is converted at the edges (money.ts). */
export type Asset = (typeof ASSETS)[number];

export interface Posting {
  debit: string;
  credit: string;
  /** A positive safe integer in the asset's unit: points, or fen. */
  amount: number;
  asset: Asset;
}

/**
 * Largest amount of one posting: far above any real grant or payment, far below 2^53. Benefits
 * caps a whole programme at a tenth of it (MAX_PROGRAMME_FEN in src/domain/benefits/accounts.ts).
 */
export const MAX_POSTING_AMOUNT = 1_000_000_000_000;

export function posting(debit: string, credit: string, amount: number, asset: Asset): Posting {
  invariant(Number.isSafeInteger(amount) && amount > 0 && amount <= MAX_POSTING_AMOUNT, `a posting moves a positive whole amount (got ${amount})`);
  invariant(debit !== credit, `a posting moves between two accounts (got ${debit} twice)`);
  return { debit, credit, amount, asset };
}

export const pointsPosting = (debit: string, credit: string, points: number): Posting => posting(debit, credit, points, 'POINTS');

/**
 * Schema versions of events that carry postings. Version 1 (before assets existed) stored
 * `{ debit, credit, points }`; version 2 stores `{ debit, credit, amount, asset }`. Stored events
 * never change, so version 1 is read through `upcastPostings`; the hash chain covers the stored
 * bytes and is untouched.
 */
export const POSTINGS_SCHEMA_VERSION = 2;

interface PostingV1 {
  debit: string;
  credit: string;
  points: number;
}

/** The schema version an event with this data is written at: 2 when it carries postings. */
export function schemaVersionOf(data: object): number {
  return Array.isArray((data as { postings?: unknown }).postings) ? POSTINGS_SCHEMA_VERSION : 1;
}

/**
 * Reads an event's data written at `schemaVersion` as the current shape: a version-1 posting is
 * a POINTS posting of the same amount. Other data is returned as it is (the same object). Safe to
 * apply twice: a posting that already names its asset is left alone.
 */
export function upcastPostings<Data extends object>(data: Data, schemaVersion: number): Data {
  if (schemaVersion >= POSTINGS_SCHEMA_VERSION) return data;
  const postings = (data as { postings?: unknown }).postings;
  if (!Array.isArray(postings)) return data;
  return {
    ...data,
    postings: (postings as Array<PostingV1 | Posting>).map((old) =>
      'asset' in old ? old : { debit: old.debit, credit: old.credit, amount: old.points, asset: 'POINTS' },
    ),
  };
}
