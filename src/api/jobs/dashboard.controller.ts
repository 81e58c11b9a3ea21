import { Body, Controller, Delete, HttpCode, Post, Query, Req, Res } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { Unrecorded } from '../common/unrecorded';
import { NoQuery, parseNoBody, parseQuery } from '../common/validation';
import { OpenDashboardSession } from './jobs-handlers';
import { DASHBOARD_COOKIE, DASHBOARD_PATH } from './queue-dashboard';

/** The cookie of a dashboard session: sent back only to the dashboard's path, never readable by scripts, never cross-site. */
function sessionCookie(value: string, maxAgeSeconds: number, secure: boolean): string {
  return `${DASHBOARD_COOKIE}=${value}; Path=${DASHBOARD_PATH}; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

/** A browser's way into the queue dashboard (queue-dashboard.ts), which cannot be sent a bearer header on navigation. */
@ApiTags('admin')
@ApiBearerAuth()
@Controller('v1/admin/dashboard')
export class DashboardController {
  constructor(private readonly commands: CommandBus) {}

  @Post('session')
  @HttpCode(200)
  @Roles('admin')
  // The answer sets a token (in its cookie), which the idempotency table must not keep; opening twice is harmless.
  @Unrecorded()
  @ApiOperation({ summary: `Open the queue dashboard at ${DASHBOARD_PATH}/ in a browser (root admins only): sets a short-lived HttpOnly, SameSite=Strict cookie for that path` })
  async open(@CurrentUser() user: JwtClaims, @Body() body: unknown, @Query() query: unknown, @Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    parseQuery(NoQuery, query);
    parseNoBody(body);
    const session = await this.commands.execute(new OpenDashboardSession(user));
    // Secure whenever this service itself serves https (trustProxy is off, so a proxy's header is not believed).
    void reply.header('set-cookie', sessionCookie(session.token, session.maxAgeSeconds, request.protocol === 'https'));
    void reply.header('cache-control', 'no-store');
    return { dashboard: `${DASHBOARD_PATH}/`, expiresAt: new Date(session.expiresAtMs).toISOString() };
  }

  @Delete('session')
  @HttpCode(200)
  @Roles('admin')
  @Unrecorded()
  @ApiOperation({ summary: 'Close the queue dashboard session of this browser (clears its cookie)' })
  close(@Body() body: unknown, @Query() query: unknown, @Req() request: FastifyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    parseQuery(NoQuery, query);
    parseNoBody(body);
    void reply.header('set-cookie', sessionCookie('', 0, request.protocol === 'https'));
    return { closed: true };
  }
}
