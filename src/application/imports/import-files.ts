import type { Queryable } from '../../infra/database';
import type { PiiVault } from '../../infra/pii';

/**
 * Roster uploads waiting for their import job (ul_import_files). The file holds national ID
 * numbers and phones, so it is stored sealed: AES-256-GCM under a data key of its own in the
 * vault (owner `import:<importId>`), and deleting that key once the import is done makes any
 * copy left behind (a backup, a row missed by the delete) unreadable.
 */

const ownerOf = (importId: string): string => `import:${importId}`;

export class ImportFiles {
  constructor(
    private readonly db: Queryable,
    private readonly vault: () => Pick<PiiVault, 'sealBytes' | 'openBytes' | 'shred'>,
  ) {}

  async put(importId: string, csv: Buffer): Promise<void> {
    const sealed = await this.vault().sealBytes(ownerOf(importId), csv);
    await this.db.none('INSERT INTO ul_import_files (import_id, sealed, size_bytes) VALUES ($1, $2, $3)', [importId, sealed, csv.length]);
  }

  /** The file as uploaded; null once discarded (or its key shredded). */
  async get(importId: string): Promise<Buffer | null> {
    const row = await this.db.oneOrNone<{ sealed: Buffer }>('SELECT sealed FROM ul_import_files WHERE import_id = $1', [importId]);
    return row ? this.vault().openBytes(ownerOf(importId), row.sealed) : null;
  }

  /**
   * Files stored before `beforeMs` that the imports read model does not know, oldest first, at
   * most `limit`: the candidates of RosterImports.discardOrphanFiles, which asks the import's
   * stream before discarding any (the read model only keeps real imports' files off the list).
   */
  async unknownBefore(beforeMs: number, limit: number): Promise<string[]> {
    const rows = await this.db.any<{ import_id: string }>(
      `SELECT f.import_id FROM ul_import_files f
        WHERE f.created_at < $1 AND NOT EXISTS (SELECT 1 FROM ul_imports i WHERE i.import_id = f.import_id)
        ORDER BY f.created_at LIMIT $2`,
      [new Date(beforeMs), limit],
    );
    return rows.map((row) => row.import_id);
  }

  /** Deletes the sealed file and its key; doing it again is harmless. */
  async discard(importId: string): Promise<void> {
    await this.db.none('DELETE FROM ul_import_files WHERE import_id = $1', [importId]);
    await this.vault().shred(ownerOf(importId));
  }
}
