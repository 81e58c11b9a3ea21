import { Body, Controller, HttpCode, Inject, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiConsumes, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Ledger } from '../../application/ledger';
import { importMembers, importOrganisations, type ImportReport } from '../../application/roster-import';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { AppError } from '../common/errors';
import { LEDGER } from '../tokens';

/** Rejected rows listed in a response; the totals count them all. */
const MAX_LISTED_ROWS = 1000;
/** Rows per upload; the operators' CLI imports larger files with a progress bar and a report file. */
const MAX_UPLOAD_ROWS = 200_000;
const MAX_TREE_DEPTH = 16;

function summary(report: ImportReport) {
  const rejected = report.rows.filter((row) => row.status === 'rejected');
  return {
    kind: report.kind,
    totals: report.totals,
    fatal: report.fatal,
    rejectedRows: rejected.slice(0, MAX_LISTED_ROWS),
    rejectedRowsOmitted: Math.max(0, rejected.length - MAX_LISTED_ROWS),
    elapsedMs: report.elapsedMs,
  };
}

/**
 * Roster uploads by union admins (text/csv bodies, the same formats as `union-ledger import`).
 * An admin may add organisations under, and members into, their own subtree only; rows elsewhere
 * are rejected with ORG.FORBIDDEN. The walk up the tree reads the organisation streams, so
 * organisations created earlier in the same upload count at once.
 */
@ApiTags('admin')
@ApiBearerAuth()
@Controller('v1/admin/imports')
export class ImportsController {
  constructor(@Inject(LEDGER) private readonly ledger: Ledger) {}

  private authorizer(user: JwtClaims): (orgId: string | null) => Promise<boolean> {
    const verdicts = new Map<string, Promise<boolean>>();
    const within = async (orgId: string): Promise<boolean> => {
      let current: string | null = orgId;
      for (let depth = 0; depth < MAX_TREE_DEPTH && current !== null; depth += 1) {
        if (current === user.org) return true;
        const state = await this.ledger.orgs.readOrg(current);
        if (!state.registered) return false;
        current = state.parentId;
      }
      return false;
    };
    return async (orgId) => {
      if (orgId === null) return this.ledger.orgAccess.isRootAdmin(user);
      let verdict = verdicts.get(orgId);
      if (!verdict) {
        verdict = within(orgId);
        verdicts.set(orgId, verdict);
      }
      return verdict;
    };
  }

  private body(body: unknown): Buffer {
    if (!Buffer.isBuffer(body)) throw new AppError('HTTP.UNSUPPORTED_MEDIA_TYPE', 'send the roster as text/csv', 415);
    return body;
  }

  @Post('orgs')
  @HttpCode(200)
  @Roles('admin')
  @ApiConsumes('text/csv')
  @ApiOperation({ summary: 'Import organisations (CSV: id,name,parent_id,level); rows are reported by line' })
  async orgs(@CurrentUser() user: JwtClaims, @Body() body: unknown) {
    const report = await importOrganisations([this.body(body)], { orgService: this.ledger.orgs }, {
      actor: { type: 'admin', id: user.sub },
      authorize: this.authorizer(user),
      limits: { maxRecordBytes: 64 * 1024, maxRows: MAX_UPLOAD_ROWS },
    });
    return summary(report);
  }

  @Post('members')
  @HttpCode(200)
  @Roles('admin')
  @ApiConsumes('text/csv')
  @ApiOperation({ summary: 'Import the real-name roster (CSV: name,national_id,phone,org_id); rows are reported by line' })
  async members(@CurrentUser() user: JwtClaims, @Body() body: unknown) {
    const report = await importMembers(
      [this.body(body)],
      { memberService: this.ledger.members, orgService: this.ledger.orgs, vault: this.ledger.vault, rules: this.ledger.rules },
      {
        actor: { type: 'admin', id: user.sub },
        authorize: this.authorizer(user),
        limits: { maxRecordBytes: 64 * 1024, maxRows: MAX_UPLOAD_ROWS },
      },
    );
    return summary(report);
  }
}
