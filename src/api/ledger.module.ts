import { Module, type DynamicModule } from '@nestjs/common';
import type { Ledger } from '../application/ledger';
import { AdminController } from './admin/admin.controller';
import { ImportsController } from './admin/imports.controller';
import { MembersController } from './members/members.controller';
import { LEDGER } from './tokens';

/** The ledger's HTTP surface over one Ledger instance (members, admins, auditors). */
@Module({})
export class LedgerModule {
  static forLedger(ledger: Ledger): DynamicModule {
    return {
      module: LedgerModule,
      controllers: [MembersController, AdminController, ImportsController],
      providers: [{ provide: LEDGER, useValue: ledger }],
    };
  }
}
