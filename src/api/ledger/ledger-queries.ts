import { Inject } from '@nestjs/common';
import { Query, QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import type { UnionLedger } from '../../composition-root';
import { listCheckpoints } from '../../projections';
import { statementPage, type StatementLine } from '../../projections/ledger';
import { LEDGER } from '../tokens';

/** The ledger context's queries as @nestjs/cqrs queries: one class and one handler each. */

export class GetStatement extends Query<{ lines: StatementLine[]; nextCursor: string | null }> {
  constructor(
    readonly memberId: string,
    readonly beforeRevision: bigint | null,
    readonly limit: number,
  ) {
    super();
  }
}

@QueryHandler(GetStatement)
export class GetStatementHandler implements IQueryHandler<GetStatement> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  execute({ memberId, beforeRevision, limit }: GetStatement) {
    return statementPage(this.ledger.reads, memberId, beforeRevision, limit);
  }
}

export interface ProjectionsStatus {
  checkpoints: Record<string, string>;
  leaderboardCheckpoint: string;
  lag: Record<string, ReturnType<UnionLedger['lag'][string]['summary']>>;
}

/** Every projection's checkpoint and this process's lag figures. */
export class GetProjectionsStatus extends Query<ProjectionsStatus> {}

@QueryHandler(GetProjectionsStatus)
export class GetProjectionsStatusHandler implements IQueryHandler<GetProjectionsStatus> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  async execute(): Promise<ProjectionsStatus> {
    return {
      checkpoints: await listCheckpoints(this.ledger.db),
      leaderboardCheckpoint: (await this.ledger.leaderboards.loadCheckpoint()).toString(),
      lag: Object.fromEntries(Object.entries(this.ledger.lag).map(([name, tracker]) => [name, tracker.summary()])),
    };
  }
}

export const LEDGER_QUERY_HANDLERS = [GetStatementHandler, GetProjectionsStatusHandler];
