import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { HeadsSealedData } from '../../domain/audit';
import type { Queryable } from '../../infra/database';
import { atOrBefore, feedPointAt, headsAt, visibleFeedEnd, type FeedPoint } from './heads';
import { CHECK_EXPORT_PY, exportReadme } from './export-readme';
import { writeSealFile } from './seals';

/**
 * `union-ledger audit export`: the events in feed order as NDJSON, the latest seal with its heads,
 * every recorded seal, a manifest with each file's SHA-256 (and SHA256SUMS for `sha256sum -c`), a
 * README and a checking script, so that an outsider can check the ledger with standard tools and
 * no trust in Union Ledger's code (docs/AUDIT.md). Reads only.
 */

export const EXPORT_FORMAT = 'union-ledger-export/1';
/** Events per query while exporting; the file is written as it is read, so memory stays flat. */
const EXPORT_PAGE = 5_000;

export class ExportRangeError extends Error {}

export interface ExportOptions {
  directory: string;
  /** The first event exported: the one at this global position (default: the first of the log). */
  fromPosition?: bigint;
  /** The last event exported: the one at this global position (default: the visible end of the feed). */
  untilPosition?: bigint;
  now?: Date;
}

export interface ExportedFile {
  name: string;
  bytes: number;
  sha256: string;
}

export interface ExportResult {
  events: number;
  files: ExportedFile[];
  /** The last event's global position (null: nothing exported). */
  endPosition: string | null;
  seal: HeadsSealedData | null;
  /** Set when the latest seal no longer matches the database: its heads recomputed give another root. */
  sealMismatch: string | null;
}

interface ExportRow {
  global_position: string;
  sort_key: string;
  stream_id: string;
  stream_revision: string;
  event_id: string;
  event_type: string;
  schema_version: number;
  data: unknown;
  metadata: unknown;
  recorded_ms: string;
  content_digest: Buffer;
  hash: Buffer;
}

async function point(db: Queryable, position: bigint, name: string): Promise<FeedPoint> {
  const found = await feedPointAt(db, position);
  if (!found) throw new ExportRangeError(`${name} ${position}: no event is stored at that position`);
  return found;
}

/** Writes lines to a file while hashing them, without holding the file in memory. */
class HashedFile {
  private readonly out;
  private readonly hash = createHash('sha256');
  bytes = 0;

  constructor(
    readonly name: string,
    directory: string,
  ) {
    this.out = createWriteStream(path.join(directory, name));
  }

  async line(text: string): Promise<void> {
    const bytes = Buffer.from(`${text}\n`, 'utf8');
    this.hash.update(bytes);
    this.bytes += bytes.length;
    if (!this.out.write(bytes)) await once(this.out, 'drain');
  }

  async close(): Promise<ExportedFile> {
    this.out.end();
    await once(this.out, 'finish');
    return { name: this.name, bytes: this.bytes, sha256: this.hash.digest('hex') };
  }
}

async function fileOf(directory: string, name: string, content: string): Promise<ExportedFile> {
  const bytes = Buffer.from(content, 'utf8');
  await writeFile(path.join(directory, name), bytes);
  return { name, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
}

export async function exportLedger(db: Queryable, seals: () => Promise<HeadsSealedData[]>, options: ExportOptions): Promise<ExportResult> {
  await mkdir(options.directory, { recursive: true });
  if ((await readdir(options.directory)).length > 0) throw new ExportRangeError(`${options.directory} is not empty: an export goes to a directory of its own`);
  const end = options.untilPosition === undefined ? await visibleFeedEnd(db) : await point(db, options.untilPosition, '--until');
  const start = options.fromPosition === undefined ? null : await point(db, options.fromPosition, '--from');

  const events = new HashedFile('events.ndjson', options.directory);
  let count = 0;
  let endPosition: string | null = null;
  let cursor: { position: string; sortKey: string } | null = null;
  if (end.sortKey !== null) {
    for (;;) {
      const rows: ExportRow[] = await db.any(
        `SELECT global_position, transaction_id::text AS sort_key, stream_id, stream_revision, event_id, event_type, schema_version, data, metadata,
                (extract(epoch FROM recorded_at) * 1000)::bigint AS recorded_ms, content_digest, hash
           FROM ul_events
          WHERE ${atOrBefore(1)}
            AND ($3::bigint IS NULL OR (transaction_id, global_position) >= ($4::xid8, $3::bigint))
            AND ($5::bigint IS NULL OR (transaction_id, global_position) > ($6::xid8, $5::bigint))
          ORDER BY transaction_id, global_position LIMIT $7`,
        [
          end.position.toString(),
          end.sortKey,
          start?.position.toString() ?? null,
          start?.sortKey ?? null,
          cursor?.position ?? null,
          cursor?.sortKey ?? null,
          EXPORT_PAGE,
        ],
      );
      for (const row of rows) {
        await events.line(
          JSON.stringify({
            globalPosition: row.global_position,
            streamId: row.stream_id,
            revision: Number(row.stream_revision),
            eventId: row.event_id,
            type: row.event_type,
            schemaVersion: row.schema_version,
            data: row.data,
            metadata: row.metadata,
            recordedAtMs: Number(row.recorded_ms),
            contentDigest: row.content_digest.toString('hex'),
            hash: row.hash.toString('hex'),
          }),
        );
        count += 1;
        endPosition = row.global_position;
      }
      const last = rows[rows.length - 1];
      if (!last || rows.length < EXPORT_PAGE) break;
      cursor = { position: last.global_position, sortKey: last.sort_key };
    }
  }
  const files: ExportedFile[] = [await events.close()];

  // The latest seal at or before the export's end, its heads recomputed from the database: a
  // root that differs from the recorded one means the database changed under the seal.
  const recorded = await seals();
  let seal: HeadsSealedData | null = null;
  let sealMismatch: string | null = null;
  for (const candidate of [...recorded].reverse()) {
    const at = await feedPointAt(db, BigInt(candidate.position));
    if (!at || at.sortKey === null || end.sortKey === null) continue;
    if (BigInt(at.sortKey) > BigInt(end.sortKey) || (at.sortKey === end.sortKey && at.position > end.position)) continue;
    seal = candidate;
    const heads = await headsAt(db, at);
    if (heads.root !== candidate.root) sealMismatch = `seal #${candidate.sealNumber}: the heads at position ${candidate.position} now give root ${heads.root}, the seal recorded ${candidate.root}`;
    await writeSealFile(path.join(options.directory, 'seal.ndjson'), candidate, heads.heads);
    const written = await readFile(path.join(options.directory, 'seal.ndjson'));
    files.push({ name: 'seal.ndjson', bytes: written.length, sha256: createHash('sha256').update(written).digest('hex') });
    break;
  }
  files.push(await fileOf(options.directory, 'seals.ndjson', recorded.map((item) => `${JSON.stringify(item)}\n`).join('')));
  files.push(await fileOf(options.directory, 'check_export.py', CHECK_EXPORT_PY));
  const range = { from: start ? start.position.toString() : null, until: endPosition };
  files.push(await fileOf(options.directory, 'README.md', exportReadme({ events: count, range, seal })));
  const manifest = {
    format: EXPORT_FORMAT,
    createdAt: (options.now ?? new Date()).toISOString(),
    range,
    events: count,
    seal: seal ? { sealNumber: seal.sealNumber, position: seal.position, root: seal.root } : null,
    files,
  };
  const manifestFile = await fileOf(options.directory, 'manifest.json', `${JSON.stringify(manifest, null, 2)}\n`);
  await fileOf(options.directory, 'SHA256SUMS', [...files, manifestFile].map((file) => `${file.sha256}  ${file.name}\n`).join(''));
  return { events: count, files: [...files, manifestFile], endPosition, seal, sealMismatch };
}
