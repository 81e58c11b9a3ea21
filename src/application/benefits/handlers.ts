import {
  dueProposal,
  dueWallet,
  evolveBatch,
  evolveMerchant,
  evolveProgramme,
  evolveProposal,
  evolveWallet,
  initialBatchState,
  initialMerchantState,
  initialProgrammeState,
  initialProposalState,
  initialWalletState,
  type BatchEvent,
  type BatchState,
  type MerchantEvent,
  type MerchantState,
  type ProgrammeEvent,
  type ProgrammeState,
  type ProposalEvent,
  type ProposalState,
  type WalletEvent,
  type WalletState,
} from '../../domain/benefits';
import { schemaVersionOf } from '../../domain/shared';
import type { EventStore } from '../../eventstore/event-store';
import { CommandHandler, type CommandHandlerOptions } from '../command-handler';

/** The benefits context's aggregates, each behind the one command handler. */
export class BenefitHandlers {
  readonly programmes: CommandHandler<ProgrammeState, ProgrammeEvent>;
  readonly proposals: CommandHandler<ProposalState, ProposalEvent>;
  readonly batches: CommandHandler<BatchState, BatchEvent>;
  readonly wallets: CommandHandler<WalletState, WalletEvent>;
  readonly merchants: CommandHandler<MerchantState, MerchantEvent>;

  constructor(store: EventStore, options: CommandHandlerOptions & { walletCacheEntries?: number }) {
    const common = { ...(options.clock ? { clock: options.clock } : {}), ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}) };
    const schemaVersion = (event: { data: object }) => schemaVersionOf(event.data);
    // Programmes, proposals, batches and merchants are few (thousands); wallets are one per member.
    this.programmes = new CommandHandler<ProgrammeState, ProgrammeEvent>(store, { name: 'programme', initialState: initialProgrammeState, evolve: evolveProgramme, schemaVersion }, { ...common, cacheEntries: 1_000 });
    this.proposals = new CommandHandler(store, { name: 'proposal', initialState: initialProposalState, evolve: evolveProposal, due: dueProposal }, { ...common, cacheEntries: 10_000 });
    // A batch's state holds its member list (up to 200,000): keep only a few in memory.
    this.batches = new CommandHandler(store, { name: 'batch', initialState: initialBatchState, evolve: evolveBatch }, { ...common, cacheEntries: 16 });
    this.wallets = new CommandHandler<WalletState, WalletEvent>(
      store,
      { name: 'wallet', initialState: initialWalletState, evolve: evolveWallet, schemaVersion, due: dueWallet },
      { ...common, cacheEntries: options.walletCacheEntries ?? options.cacheEntries ?? 100_000 },
    );
    this.merchants = new CommandHandler<MerchantState, MerchantEvent>(store, { name: 'merchant', initialState: initialMerchantState, evolve: evolveMerchant, schemaVersion }, { ...common, cacheEntries: 10_000 });
  }
}
