import { Controller, Get, Query } from '@nestjs/common';
import { QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { ApiQuerySchema, parseQuery } from '../common/validation';
import { GetStatement } from './ledger-queries';
import { statementQuery } from './schemas';

@ApiTags('members')
@ApiBearerAuth()
@Controller('v1/me')
export class StatementController {
  constructor(private readonly queries: QueryBus) {}

  @Get('statement')
  @Roles('member')
  @ApiQuerySchema(statementQuery)
  @ApiOperation({ summary: 'Statement lines, newest first, paginated by cursor' })
  async statement(@CurrentUser() user: JwtClaims, @Query() query: unknown) {
    const { cursor, limit = 20 } = parseQuery(statementQuery, query);
    return this.queries.execute(new GetStatement(user.sub, cursor === undefined ? null : BigInt(cursor), limit));
  }
}
