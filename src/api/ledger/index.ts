/** The ledger context over HTTP. */
export { LedgerModule } from './ledger.module';
