import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { CsvUpload } from '../common/http-limits';
import { IdempotencyKey } from '../common/idempotency';
import { csvBody } from '../common/imports';
import { ApiBodySchema, ApiParamSchema, ApiQuerySchema, NoQuery, parseBody, parseNoBody, parseParams, parseQuery } from '../common/validation';
import { ApproveProposal, CloseProgramme, DraftBatch, OpenProgramme, ProposeAllocation, ProposeFunding, RejectProposal, ReturnBudget } from './benefits-commands';
import { GetBatch, GetBatchResults, GetProgramme, GetProposal, ListBatches, ListProposals } from './benefits-queries';
import { presentBatch, presentProgramme, presentProposal, presentRow } from './present';
import {
  allocationSchema,
  batchesQuery,
  batchCsvQuery,
  batchParams,
  batchResultsQuery,
  batchSchema,
  fundingSchema,
  openProgrammeSchema,
  programmeParams,
  proposalParams,
  proposalsQuery,
  rejectionSchema,
  returnSchema,
} from './schemas';

/**
 * Welfare-fund programmes for union admins and finance approvers: budgets down the union tree,
 * disbursement batches and voucher campaigns, and the proposals inbox (maker-checker). Every
 * route is limited to the caller's subtree.
 */
@ApiTags('benefits')
@ApiBearerAuth()
@Controller('v1/admin')
export class ProgrammesController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  @Post('programmes')
  @Roles('admin')
  @ApiBodySchema(openProgrammeSchema)
  @ApiOperation({ summary: 'Open a benefit programme for a year (for example 2026 中秋慰问) rooted at a union of your subtree' })
  async open(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    const state = await this.commands.execute(new OpenProgramme(user, key, parseBody(openProgrammeSchema, body)));
    return presentProgramme(state, null);
  }

  @Get('programmes/:programmeId')
  @Roles('admin', 'finance', 'auditor')
  @ApiParamSchema(programmeParams)
  @ApiOperation({ summary: 'The budget tree: funded, allocated, disbursed and remaining at every union you see' })
  async read(@CurrentUser() user: JwtClaims, @Param() params: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    const { state, visible } = await this.queries.execute(new GetProgramme(user, parseParams(programmeParams, params)));
    return presentProgramme(state, visible);
  }

  @Post('programmes/:programmeId/fundings')
  @Roles('admin')
  @ApiParamSchema(programmeParams)
  @ApiBodySchema(fundingSchema)
  @ApiOperation({ summary: 'Propose funding the root budget (takes effect when a finance approver approves)' })
  async fund(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    const { programmeId } = parseParams(programmeParams, params);
    return presentProposal(await this.commands.execute(new ProposeFunding(user, key, { programmeId, ...parseBody(fundingSchema, body) })));
  }

  @Post('programmes/:programmeId/allocations')
  @Roles('admin')
  @ApiParamSchema(programmeParams)
  @ApiBodySchema(allocationSchema)
  @ApiOperation({ summary: 'Propose an allocation from a union’s budget to a direct child union (maker-checker)' })
  async allocate(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    const { programmeId } = parseParams(programmeParams, params);
    return presentProposal(await this.commands.execute(new ProposeAllocation(user, key, { programmeId, ...parseBody(allocationSchema, body) })));
  }

  @Post('programmes/:programmeId/returns')
  @Roles('admin')
  @ApiParamSchema(programmeParams)
  @ApiBodySchema(returnSchema)
  @ApiOperation({ summary: 'Return unused money up the tree: at once up to the approval threshold, proposed above it' })
  async returnUp(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    const { programmeId } = parseParams(programmeParams, params);
    const result = await this.commands.execute(new ReturnBudget(user, key, { programmeId, ...parseBody(returnSchema, body) }));
    return { status: result.status, proposal: result.proposal ? presentProposal(result.proposal) : null };
  }

  @Post('programmes/:programmeId/close')
  @HttpCode(200)
  @Roles('admin')
  @ApiParamSchema(programmeParams)
  @ApiOperation({ summary: 'Close the programme after its year: every remainder goes back to the root union’s funds' })
  async close(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    parseNoBody(body);
    return presentProgramme(await this.commands.execute(new CloseProgramme(user, key, parseParams(programmeParams, params))), null);
  }

  @Post('batches')
  @Roles('admin')
  @ApiBodySchema(batchSchema)
  @ApiOperation({ summary: 'Draft and propose a disbursement or voucher campaign: listed members, or every active member of the union' })
  async draft(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    const { batch, proposal } = await this.commands.execute(new DraftBatch(user, key, parseBody(batchSchema, body)));
    return { batch: presentBatch(batch), proposal: presentProposal(proposal) };
  }

  @Post('batches/csv')
  @Roles('admin')
  @CsvUpload()
  @ApiQuerySchema(batchCsvQuery)
  @ApiBody({ description: 'CSV (UTF-8): member_id,amount — amounts in yuan such as 200.00; up to 200,000 rows', schema: { type: 'string', format: 'binary' } })
  @ApiOperation({ summary: 'Draft and propose a money batch with per-member amounts from a CSV file; a file with any bad row is refused whole' })
  async draftCsv(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Body() body: unknown, @Query() query: unknown) {
    const input = parseQuery(batchCsvQuery, query);
    const { batch, proposal } = await this.commands.execute(new DraftBatch(user, key, { ...input, kind: 'money', csv: csvBody(body) }));
    return { batch: presentBatch(batch), proposal: presentProposal(proposal) };
  }

  @Get('batches')
  @Roles('admin', 'finance', 'auditor')
  @ApiQuerySchema(batchesQuery)
  @ApiOperation({ summary: 'Batches of your subtree (auditors: all), newest first, with their progress as projected' })
  async batches(@CurrentUser() user: JwtClaims, @Query() query: unknown) {
    const page = await this.queries.execute(new ListBatches(user, parseQuery(batchesQuery, query)));
    return { batches: page.items.map((row) => presentRow(row as unknown as Record<string, unknown>)), nextCursor: page.nextCursor };
  }

  @Get('batches/:batchId')
  @Roles('admin', 'finance', 'auditor')
  @ApiParamSchema(batchParams)
  @ApiOperation({ summary: 'A batch’s status and progress (paid members and amount)' })
  async batch(@CurrentUser() user: JwtClaims, @Param() params: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    return presentBatch(await this.queries.execute(new GetBatch(user, parseParams(batchParams, params))));
  }

  @Get('batches/:batchId/results')
  @Roles('admin', 'finance', 'auditor')
  @ApiParamSchema(batchParams)
  @ApiQuerySchema(batchResultsQuery)
  @ApiOperation({ summary: 'Per-member results of a batch (paid, unpaid, pending), in list order' })
  async results(@CurrentUser() user: JwtClaims, @Param() params: unknown, @Query() query: unknown) {
    const input = { ...parseParams(batchParams, params), ...parseQuery(batchResultsQuery, query) };
    const page = await this.queries.execute(new GetBatchResults(user, input));
    return { results: page.items.map((row) => presentRow(row as unknown as Record<string, unknown>)), nextCursor: page.nextCursor };
  }

  @Get('proposals')
  @Roles('admin', 'finance', 'auditor')
  @ApiQuerySchema(proposalsQuery)
  @ApiOperation({ summary: 'The proposals inbox of your subtree, newest first' })
  async proposals(@CurrentUser() user: JwtClaims, @Query() query: unknown) {
    const page = await this.queries.execute(new ListProposals(user, parseQuery(proposalsQuery, query)));
    return { proposals: page.items.map((row) => presentRow(row as unknown as Record<string, unknown>)), nextCursor: page.nextCursor };
  }

  @Get('proposals/:proposalId')
  @Roles('admin', 'finance', 'auditor')
  @ApiParamSchema(proposalParams)
  @ApiOperation({ summary: 'One proposal, with its proposer, approver and outcome' })
  async proposal(@CurrentUser() user: JwtClaims, @Param() params: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    return presentProposal(await this.queries.execute(new GetProposal(user, parseParams(proposalParams, params))));
  }

  @Post('proposals/:proposalId/approval')
  @HttpCode(200)
  @Roles('finance')
  @ApiParamSchema(proposalParams)
  @ApiOperation({ summary: 'Approve a proposal (a finance approver of the same or a higher union, never its proposer); it takes effect at once' })
  async approve(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    parseNoBody(body);
    return presentProposal(await this.commands.execute(new ApproveProposal(user, key, parseParams(proposalParams, params))));
  }

  @Post('proposals/:proposalId/rejection')
  @HttpCode(200)
  @Roles('finance')
  @ApiParamSchema(proposalParams)
  @ApiBodySchema(rejectionSchema)
  @ApiOperation({ summary: 'Reject a proposal with a reason' })
  async reject(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Param() params: unknown, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    const input = { ...parseParams(proposalParams, params), ...parseBody(rejectionSchema, body) };
    return presentProposal(await this.commands.execute(new RejectProposal(user, key, input)));
  }
}
