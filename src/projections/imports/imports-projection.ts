import type { ImportEvent } from '../../domain/imports';
import type { RecordedEvent } from '../../eventstore/event-store';
import { pgp, type DbTask } from '../../infra/database';
import type { Projection } from '../runner';

/** Roster imports run as jobs: progress (ul_imports) and rejected rows (ul_import_rejections). */
export const IMPORTS_PROJECTION = 'imports';

/** Every event type this projection reads; the `satisfies` check fails to compile when one is left out. */
const EVENT_TYPES = { ImportRequested: true, ImportChunkProcessed: true, ImportCompleted: true } as const satisfies Record<ImportEvent['type'], true>;

const rejectionColumns = new pgp.helpers.ColumnSet(['import_id', 'line', 'code', 'message'], { table: 'ul_import_rejections' });

export function importsProjection(): Projection {
  return {
    name: IMPORTS_PROJECTION,
    tables: ['ul_imports', 'ul_import_rejections'],
    streamPrefixes: ['import-'],
    eventTypes: Object.keys(EVENT_TYPES),
    // Every row is keyed by the stream whose events write it: partitions by stream give the same rows.
    partitionable: true,
    async apply(tx: DbTask, events: RecordedEvent[]) {
      for (const recorded of events) {
        const event = { type: recorded.type, data: recorded.data } as unknown as ImportEvent;
        const at = recorded.metadata.occurredAt;
        switch (event.type) {
          case 'ImportRequested': {
            const { importId, kind, uploaderId, orgScope, rowCount, sizeBytes, fileDigest } = event.data;
            await tx.none(
              `INSERT INTO ul_imports (import_id, kind, uploader_id, org_scope, state, rows_total, size_bytes, file_digest, requested_at, updated_at)
               VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7, $8, $8)`,
              [importId, kind, uploaderId, orgScope, rowCount, sizeBytes, fileDigest, at],
            );
            break;
          }
          case 'ImportChunkProcessed': {
            const { importId, rows, applied, unchanged, rejected, rejections } = event.data;
            await tx.none(
              `UPDATE ul_imports SET state = 'running', rows_done = rows_done + $2, applied = applied + $3, unchanged = unchanged + $4,
                      rejected = rejected + $5, updated_at = $6
                WHERE import_id = $1`,
              [importId, rows, applied, unchanged, rejected, at],
            );
            if (rejections.length > 0) {
              const rows = rejections.map((rejection) => ({ import_id: importId, line: rejection.line, code: rejection.code, message: rejection.message }));
              await tx.none(pgp.helpers.insert(rows, rejectionColumns));
            }
            break;
          }
          case 'ImportCompleted':
            await tx.none(`UPDATE ul_imports SET state = 'completed', completed_at = $2, updated_at = $2 WHERE import_id = $1`, [event.data.importId, at]);
            break;
          default: {
            const unknown: never = event;
            throw new Error(`unknown imports event ${(unknown as { type: string }).type}`);
          }
        }
      }
    },
  };
}
