import { Body, Controller, HttpCode, Post, Req } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { Unrecorded } from '../common/unrecorded';
import { object, optional, parseBody, str, toJsonSchema } from '../common/validation';
import { ConfirmActivation, StartActivation } from './identity-commands';

const startSchema = object({ nationalId: str({ min: 15, max: 20 }), name: str({ min: 1, max: 50 }) });
const confirmSchema = object({
  challengeId: str({ min: 36, max: 36, pattern: /^[0-9a-f-]{36}$/ }),
  code: str({ min: 6, max: 6, pattern: /^\d{6}$/ }),
  device: optional(str({ min: 1, max: 100 })),
});

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
  @ApiBody({ schema: toJsonSchema(startSchema) })
  @ApiOperation({ summary: 'Send a 6-digit code to the phone on the roster (if the person is there); the answer is the same either way' })
  async start(@CurrentUser() visitor: JwtClaims, @Body() body: unknown) {
    const input = parseBody(startSchema, body);
    return this.commands.execute(new StartActivation(visitor, input.nationalId, input.name));
  }

  @Post('confirm')
  @HttpCode(200)
  @Roles('visitor')
  @Unrecorded()
  @ApiBody({ schema: toJsonSchema(confirmSchema) })
  @ApiOperation({ summary: 'Confirm the code: binds the WeChat account, activates the member (reward, insurance) and answers a member session' })
  async confirm(@CurrentUser() visitor: JwtClaims, @Body() body: unknown, @Req() request: FastifyRequest) {
    const input = parseBody(confirmSchema, body);
    const device = (input.device ?? request.headers['user-agent'] ?? 'unknown').slice(0, 100);
    return this.commands.execute(new ConfirmActivation(visitor, input.challengeId, input.code, device));
  }
}
