import { Module } from '@nestjs/common';
import { BENEFITS_COMMAND_HANDLERS } from './benefits-commands';
import { BENEFITS_QUERY_HANDLERS } from './benefits-queries';
import { MerchantsController } from './merchants.controller';
import { ProgrammesController } from './programmes.controller';
import { TerminalController } from './terminal.controller';
import { WalletController } from './wallet.controller';

/** The benefits context over HTTP: programmes and budgets, proposals, batches, merchants, wallets, payments. */
@Module({
  controllers: [ProgrammesController, MerchantsController, WalletController, TerminalController],
  providers: [...BENEFITS_COMMAND_HANDLERS, ...BENEFITS_QUERY_HANDLERS],
})
export class BenefitsModule {}
