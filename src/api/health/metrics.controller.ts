import { Controller, Get, Inject, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { MetricsToken, Roles } from '../common/auth';
import { NoQuery, parseQuery } from '../common/validation';
import { METRICS } from '../tokens';

/** What this controller needs of the metrics (src/infra/metrics.ts ServiceMetrics): the collection stays outside the API. */
export interface MetricsScrape {
  scrape(): Promise<{ contentType: string; body: string }>;
}

@ApiTags('operations')
@ApiBearerAuth()
@Controller('metrics')
export class MetricsController {
  constructor(@Inject(METRICS) private readonly metrics: MetricsScrape) {}

  /**
   * Prometheus scrapes with METRICS_TOKEN as its bearer token; admins and auditors may read it
   * with their own token. Unset METRICS_TOKEN: their tokens only. Never public: the figures tell
   * how busy the ledger is and what is failing.
   */
  @Get()
  @MetricsToken()
  @Roles('admin', 'auditor')
  @ApiOperation({ summary: 'Prometheus metrics: HTTP durations by route template, projection lag, queue depths, job outcomes, process' })
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'The Prometheus text exposition format (version 0.0.4)' })
  async scrape(@Query() query: unknown, @Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    parseQuery(NoQuery, query);
    const { contentType, body } = await this.metrics.scrape();
    void reply.header('content-type', contentType);
    return body;
  }
}
