import { createHash } from 'node:crypto';
import { invariant } from '../shared';

/**
 * Sealed stream heads (docs/AUDIT.md). A hash chain shows an edit inside a stream but not a
 * stream that lost its last events, lost every event, or had its tail rewritten with fresh hashes:
 * those leave a valid chain. A seal records every stream's head, `(stream, last revision, hash)`,
 * at one global position, folded into one Merkle root; the heads go out as a file the auditor
 * keeps, and any later state of the database is compared with it.
 *
 *   leaf      = SHA-256( 0x00 || UTF-8 of JSON.stringify([streamId, revision, hashHex]) )
 *   node      = SHA-256( 0x01 || left || right )      (a level's odd last node moves up as it is)
 *   root      = the last level's one node; SHA-256 of nothing when there are no streams
 *
 * Leaves are in the order of the stream ids' UTF-8 bytes (PostgreSQL's COLLATE "C"). The 0x00 and
 * 0x01 prefixes keep a leaf from ever being read as a node (RFC 6962's rule).
 */

export interface StreamHead {
  streamId: string;
  /** The stream's last revision at the seal's position (0-based; safe integers only). */
  revision: number;
  /** The hash of that event, lower-case hex (64 characters). */
  hash: string;
}

export const EMPTY_ROOT = createHash('sha256').digest('hex');
const HEX_HASH = /^[0-9a-f]{64}$/;

/** Byte order of UTF-8, which is what COLLATE "C" sorts by (not UTF-16 code units, as `sort()` would). */
export function compareStreamIds(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export function leafHash(head: StreamHead): Buffer {
  invariant(Number.isSafeInteger(head.revision) && head.revision >= 0, `revision of ${head.streamId} is not a whole number`);
  invariant(HEX_HASH.test(head.hash), `hash of ${head.streamId} is not 64 hex digits`);
  return createHash('sha256')
    .update(Buffer.from([0]))
    .update(JSON.stringify([head.streamId, head.revision, head.hash]), 'utf8')
    .digest();
}

/**
 * The Merkle root of heads given in stream order (an invariant: a caller that sorts otherwise has a
 * bug). Memory is one hash per stream.
 */
export function merkleRoot(heads: Iterable<StreamHead>): string {
  let level: Buffer[] = [];
  let previous: string | undefined;
  for (const head of heads) {
    invariant(previous === undefined || compareStreamIds(previous, head.streamId) < 0, `heads out of order at ${head.streamId}`);
    previous = head.streamId;
    level.push(leafHash(head));
  }
  if (level.length === 0) return EMPTY_ROOT;
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let index = 0; index < level.length; index += 2) {
      const right = level[index + 1];
      next.push(right ? createHash('sha256').update(Buffer.from([1])).update(level[index]!).update(right).digest() : level[index]!);
    }
    level = next;
  }
  return level[0]!.toString('hex');
}

/** What a stream is now, against the head a seal recorded for it. */
export type HeadFinding =
  | { kind: 'vanished'; streamId: string; sealedRevision: number }
  | { kind: 'truncated'; streamId: string; sealedRevision: number; lastRevision: number }
  | { kind: 'rewritten'; streamId: string; sealedRevision: number; sealedHash: string; storedHash: string };

/** The stream as the database holds it now: its last revision, and the hash stored at the sealed revision. */
export interface CurrentStream {
  lastRevision: number | null;
  hashAtSealedRevision: string | null;
}

/**
 * One sealed head against the stream now. A stream may have grown since the seal; it may not have
 * lost events or changed the event the seal recorded (whose hash covers every earlier event of it).
 */
export function compareHead(sealed: StreamHead, now: CurrentStream): HeadFinding | null {
  if (now.lastRevision === null) return { kind: 'vanished', streamId: sealed.streamId, sealedRevision: sealed.revision };
  if (now.hashAtSealedRevision === null || now.lastRevision < sealed.revision) {
    return { kind: 'truncated', streamId: sealed.streamId, sealedRevision: sealed.revision, lastRevision: now.lastRevision };
  }
  if (now.hashAtSealedRevision !== sealed.hash) {
    return { kind: 'rewritten', streamId: sealed.streamId, sealedRevision: sealed.revision, sealedHash: sealed.hash, storedHash: now.hashAtSealedRevision };
  }
  return null;
}

// ---- the seals' own stream: each seal is an event, chained to the one before it ----

export const SEALS_STREAM = 'audit-seals';

export interface HeadsSealedData {
  /** 1 for the first seal, then one more each time. */
  sealNumber: number;
  /** The global position the heads were taken at (decimal text: positions are 64-bit). */
  position: string;
  streams: number;
  events: number;
  root: string;
  /** The root of the seal before this one (null for the first): seals chain to each other. */
  previousRoot: string | null;
  /** When the heads were taken (ISO-8601). */
  sealedAt: string;
}

export type SealEvent = { type: 'HeadsSealed'; data: HeadsSealedData };

export interface SealsState {
  last: HeadsSealedData | null;
}

export const initialSealsState: SealsState = { last: null };

export function evolveSeals(state: SealsState, event: SealEvent): SealsState {
  switch (event.type) {
    case 'HeadsSealed':
      return { last: event.data };
    default: {
      const unknown: never = event.type;
      throw new Error(`invariant violated: unknown seal event ${String(unknown)}`);
    }
  }
}

/**
 * A new seal over heads taken at `position`. Nothing is sealed twice at one position: a seal with
 * nothing new since the last adds no information (returns no events).
 */
export function seal(
  state: SealsState,
  taken: { position: bigint; streams: number; events: number; root: string },
  now: Date,
): SealEvent[] {
  if (state.last && BigInt(state.last.position) >= taken.position) return [];
  return [
    {
      type: 'HeadsSealed',
      data: {
        sealNumber: (state.last?.sealNumber ?? 0) + 1,
        position: taken.position.toString(),
        streams: taken.streams,
        events: taken.events,
        root: taken.root,
        previousRoot: state.last?.root ?? null,
        sealedAt: now.toISOString(),
      },
    },
  ];
}
