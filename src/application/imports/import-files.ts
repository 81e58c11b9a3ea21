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

  /** Deletes the sealed file and its key; doing it again is harmless. */
  async discard(importId: string): Promise<void> {
    await this.db.none('DELETE FROM ul_import_files WHERE import_id = $1', [importId]);
    await this.vault().shred(ownerOf(importId));
  }
}
