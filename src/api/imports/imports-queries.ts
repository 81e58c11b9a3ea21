import { Inject } from '@nestjs/common';
import { Query, QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import type { UnionLedger } from '../../composition-root';
import { importProgress, importRejections, type ImportProgress, type ImportRejectionRow } from '../../projections/imports';
import type { JwtClaims } from '../common/auth';
import { AppError } from '../common/errors';
import { LEDGER } from '../tokens';

/** The imports context's queries as @nestjs/cqrs queries. */

export interface ImportStatus {
  progress: ImportProgress;
  rejectedRows: ImportRejectionRow[];
  /** Pass as `afterLine` for the next page; null on the last page. */
  nextAfterLine: number | null;
}

export class GetImport extends Query<ImportStatus> {
  constructor(
    readonly user: JwtClaims,
    readonly importId: string,
    readonly afterLine: number,
    readonly limit: number,
  ) {
    super();
  }
}

/**
 * An import's progress and a page of its report, for admins whose subtree holds the uploader's
 * organisation (the uploader, and admins above them). Anyone else is told there is no such
 * import (404 IMPORT.NOT_FOUND), so import ids cannot be probed across subtrees.
 */
@QueryHandler(GetImport)
export class GetImportHandler implements IQueryHandler<GetImport> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  async execute({ user, importId, afterLine, limit }: GetImport): Promise<ImportStatus> {
    const progress = await importProgress(this.ledger.reads, importId);
    if (!progress || !(await this.ledger.orgAccess.isWithin(progress.orgScope, user.org))) {
      throw new AppError('IMPORT.NOT_FOUND', 'no such import in your part of the union tree', 404);
    }
    // One row more than asked: whether another page follows, without a count.
    const rows = await importRejections(this.ledger.reads, importId, afterLine, Math.min(limit + 1, 1_000));
    const page = rows.slice(0, limit);
    return { progress, rejectedRows: page, nextAfterLine: rows.length > limit ? page[page.length - 1]!.line : null };
  }
}

export const IMPORTS_QUERY_HANDLERS = [GetImportHandler];
