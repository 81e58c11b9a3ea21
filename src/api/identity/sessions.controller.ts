import { Body, Controller, Delete, HttpCode, Post, Query, Req } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { CurrentUser, Public, type JwtClaims } from '../common/auth';
import { Unrecorded } from '../common/unrecorded';
import { ApiBodySchema, ApiQuerySchema, NoQuery, parseBody, parseNoBody, parseQuery } from '../common/validation';
import { endSessionsQuery, passwordLoginSchema, refreshSchema, wechatLoginSchema } from './schemas';
import { EndSessions, PasswordLogin, RefreshSession, WeChatLogin } from './identity-commands';

/** The device a session belongs to: named by the client, else its user agent (for the session list and logout). */
function deviceOf(request: FastifyRequest, named: string | undefined): string {
  return (named ?? request.headers['user-agent'] ?? 'unknown').slice(0, 100);
}

@ApiTags('sessions')
@Controller('v1/sessions')
export class SessionsController {
  constructor(private readonly commands: CommandBus) {}

  @Post('wechat')
  @HttpCode(200)
  @Public()
  @Unrecorded()
  @ApiBodySchema(wechatLoginSchema)
  @ApiOperation({
    summary: 'Log in from the mini-program with a wx.login() code: a member session when the WeChat account is bound, else a visitor session that may only activate',
  })
  async wechat(@Body() body: unknown, @Query() query: unknown, @Req() request: FastifyRequest) {
    parseQuery(NoQuery, query);
    const input = parseBody(wechatLoginSchema, body);
    return this.commands.execute(new WeChatLogin(input.code, deviceOf(request, input.device)));
  }

  @Post('password')
  @HttpCode(200)
  @Public()
  @Unrecorded()
  @ApiBodySchema(passwordLoginSchema)
  @ApiOperation({ summary: 'Log in as an admin, finance approver, auditor or merchant terminal (TOTP code when enrolled); five wrong tries lock the account for 15 minutes' })
  async password(@Body() body: unknown, @Query() query: unknown, @Req() request: FastifyRequest) {
    parseQuery(NoQuery, query);
    const input = parseBody(passwordLoginSchema, body);
    return this.commands.execute(new PasswordLogin(input.username, input.password, input.totp, deviceOf(request, input.device)));
  }

  @Post('refresh')
  @HttpCode(200)
  @Public()
  @Unrecorded()
  @ApiBodySchema(refreshSchema)
  @ApiOperation({ summary: 'Spend a refresh token for a new access token and the next refresh token; the same token retried within 30 s (while the next one is unused) gets the same next token, a spent token replayed otherwise ends its session' })
  async refresh(@Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    const input = parseBody(refreshSchema, body);
    return this.commands.execute(new RefreshSession(input.refreshToken));
  }

  @Delete()
  @HttpCode(200)
  @ApiBearerAuth()
  @Unrecorded()
  @ApiQuerySchema(endSessionsQuery)
  @ApiOperation({ summary: 'Log out: end this session (scope=current, the default) or every session of the caller (scope=all)' })
  async end(@CurrentUser() user: JwtClaims, @Query() query: unknown, @Body() body: unknown) {
    parseNoBody(body);
    const { scope = 'current' } = parseQuery(endSessionsQuery, query);
    return this.commands.execute(new EndSessions(user, scope));
  }
}
