import { Controller, Get, Query } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { STATEMENT_PAGE_MAX } from '../../projections/ledger';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { AppError } from '../common/errors';
import { GetStatement } from './ledger-queries';

@ApiTags('members')
@ApiBearerAuth()
@Controller('v1/me')
export class StatementController {
  constructor(private readonly queries: QueryBus) {}

  @Get('statement')
  @Roles('member')
  @ApiOperation({ summary: 'Statement lines, newest first, paginated by cursor' })
  async statement(@CurrentUser() user: JwtClaims, @Query('cursor') cursor?: string, @Query('limit') limitText?: string) {
    const limit = limitText === undefined ? 20 : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > STATEMENT_PAGE_MAX) {
      throw AppError.badRequest('VALIDATION.FAILED', `limit must be an integer from 1 to ${STATEMENT_PAGE_MAX}`);
    }
    if (cursor !== undefined && !/^\d{1,18}$/.test(cursor)) throw AppError.badRequest('VALIDATION.FAILED', 'cursor is not valid');
    return this.queries.execute(new GetStatement(user.sub, cursor === undefined ? null : BigInt(cursor), limit));
  }
}
