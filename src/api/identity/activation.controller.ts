import { Body, Controller, HttpCode, Post, Query, Req } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { Unrecorded } from '../common/unrecorded';
import { ApiBodySchema, NoQuery, parseBody, parseQuery } from '../common/validation';
import { activationConfirmSchema, activationStartSchema } from './schemas';
import { ConfirmActivation, StartActivation } from './identity-commands';

/**
 * Activation that proves possession: a visitor (a WeChat user not yet bound) names a person on the
 * roster; the code goes by SMS to the roster's phone; confirming it binds the WeChat account to
 * the member and activates them. A start is answered alike whether or not the person exists.
 */
@ApiTags('sessions')
@ApiBearerAuth()
@Controller('v1/activation')
export class ActivationController {
  constructor(private readonly commands: CommandBus) {}

  @Post('start')
  @HttpCode(202)
  @Roles('visitor')
  @ApiBodySchema(activationStartSchema)
  @ApiOperation({ summary: 'Send a 6-digit code to the phone on the roster (if the person is there); the answer is the same either way' })
  async start(@CurrentUser() visitor: JwtClaims, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    const input = parseBody(activationStartSchema, body);
    return this.commands.execute(new StartActivation(visitor, input.nationalId, input.name));
  }

  @Post('confirm')
  @HttpCode(200)
  @Roles('visitor')
  @Unrecorded()
  @ApiBodySchema(activationConfirmSchema)
  @ApiOperation({ summary: 'Confirm the code: binds the WeChat account, activates the member (reward, insurance) and answers a member session' })
  async confirm(@CurrentUser() visitor: JwtClaims, @Body() body: unknown, @Query() query: unknown, @Req() request: FastifyRequest) {
    parseQuery(NoQuery, query);
    const input = parseBody(activationConfirmSchema, body);
    const device = (input.device ?? request.headers['user-agent'] ?? 'unknown').slice(0, 100);
    return this.commands.execute(new ConfirmActivation(visitor, input.challengeId, input.code, device));
  }
}
