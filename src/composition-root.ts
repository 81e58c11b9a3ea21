import type { RedisClient as Redis } from './infra/runtime';
import type { AppConfig } from './config/config';
import { upcastPostings } from './domain/shared';
import type { EventStore, SubscriptionHandle } from './eventstore/event-store';
import { KurrentDbEventStore } from './eventstore/kurrentdb/kurrentdb-event-store';
import { PostgresEventStore } from './eventstore/postgres/postgres-event-store';
import { EVENT_STORE_MIGRATIONS } from './eventstore/postgres/schema';
import { UpcastingEventStore, type Upcaster } from './eventstore/upcasting';
import type { Database } from './infra/database';
import { Leadership } from './infra/leadership';
import { collectMigrations } from './infra/migrations';
import { PiiVault, type PiiKeys } from './infra/pii';
import { currentReadDatabase, ReadRouting, RedisWriteMarks, type ReadRoute } from './infra/read-replica';
import { startRuntime, type Runtime, type RuntimeOptions } from './infra/runtime';
import { INFRA_MIGRATIONS } from './infra/schema';
import { WeChatHttpClient } from './infra/external-http';
import { SmsHttpClient } from './infra/sms-http';
import { InsurerHttpClient } from './infra/insurer-http';
import { PaymentGatewayHttpClient } from './infra/payment-gateway';
import { startSimulators } from './infra/simulators/simulators';
import { startPaymentGatewaySimulator } from './infra/simulators/payment-gateway-simulator';
import { QuizBook, RuleBook } from './application/earning';
import {
  AccountService,
  ActivationService,
  IDENTITY_MIGRATIONS,
  SessionRevocations,
  SessionService,
  signingKey,
  TokenService,
  type WeChatPort,
} from './application/identity';
import { AuditorReads, Seals } from './application/audit';
import { Benefits, BENEFITS_MIGRATIONS, type BenefitsSettings } from './application/benefits';
import { RosterImports } from './application/imports';
import { ClaimGate, Claims, Lotteries } from './application/claims';
import { MemberLifecycle, MemberService } from './application/members';
import { SmsService, type SmsGatewayPort } from './application/sms';
import { Mall, type MallSettings } from './application/mall';
import { InsuranceGrants, type InsurerPort } from './application/insurance';
import { DeadLetters, JOBS_MIGRATIONS, type JobQueuesPort } from './application/jobs';
import { PayoutEffect, PayoutReconciliation, type PaymentGatewayPort } from './application/payouts';
import { OrgAccess, OrgChanges, OrgService } from './application/orgs';
import { Campaigns } from './application/campaigns';
import { catchUpProjection, checkLayout, LagTracker, partitionCountOf, partitionName, partitions, rebuildProjection, startProjection, type Projection } from './projections';
import { BENEFITS_PROJECTION_MIGRATIONS, benefitsProjection } from './projections/benefits';
import { CLAIMS_MIGRATIONS, claimsProjection } from './projections/claims';
import { LEADERBOARD_PROJECTION, Leaderboards, startLeaderboardProjection } from './projections/earning';
import { IMPORTS_MIGRATIONS, importsProjection } from './projections/imports';
import { LEDGER_MIGRATIONS, ledgerProjection } from './projections/ledger';
import { MALL_PROJECTION_MIGRATIONS, mallProjection } from './projections/mall';
import { MEMBERS_MIGRATIONS, membersProjection } from './projections/members';
import { ORGS_MIGRATIONS, OrgDirectory, orgsProjection } from './projections/orgs';
import { PAYOUTS_MIGRATIONS, payoutsProjection } from './projections/payouts';
import { CAMPAIGNS_MIGRATIONS, campaignsProjection } from './projections/campaigns';

/**
 * The composition root: the one place that chooses adapters and wires every context. The
 * service, the CLI, the tests and the benchmarks all build the ledger here. A new bounded context
 * adds its migrations and its read models to the two lists below and its services to UnionLedger.
 */

/** Every owner's schema migrations, in version order. */
export const MIGRATIONS = collectMigrations(
  EVENT_STORE_MIGRATIONS,
  INFRA_MIGRATIONS,
  ORGS_MIGRATIONS,
  MEMBERS_MIGRATIONS,
  LEDGER_MIGRATIONS,
  IDENTITY_MIGRATIONS,
  BENEFITS_PROJECTION_MIGRATIONS,
  BENEFITS_MIGRATIONS,
  JOBS_MIGRATIONS,
  PAYOUTS_MIGRATIONS,
  IMPORTS_MIGRATIONS,
  MALL_PROJECTION_MIGRATIONS,
  CLAIMS_MIGRATIONS,
  CAMPAIGNS_MIGRATIONS,
);

/** Every context's PostgreSQL read models, in the order they are started and rebuilt. */
export function readModels(): Projection[] {
  return [orgsProjection(), membersProjection(), ledgerProjection(), benefitsProjection(), payoutsProjection(), importsProjection(), mallProjection(), claimsProjection(), campaignsProjection()];
}

/** What readers of stored events see instead of older shapes (src/eventstore/upcasting.ts). */
const UPCASTERS: readonly Upcaster[] = [
  (event) => {
    const data = upcastPostings(event.data, event.schemaVersion);
    return data === event.data ? event : { ...event, data };
  },
];

/** The process's connections, migrated with every owner's migrations. */
export function openRuntime(config: AppConfig, options: Omit<RuntimeOptions, 'migrations'>): Promise<Runtime> {
  return startRuntime(config, { ...options, migrations: MIGRATIONS });
}

/**
 * The event store the configuration names (EVENT_STORE, KURRENTDB_URL; loadConfig has checked
 * them), behind the upcasters. `listen: false` for one-shot commands that need no wake-ups.
 */
export function createEventStore(
  config: Pick<AppConfig, 'eventStore' | 'kurrentDbUrl' | 'groupCommitMaxBatch'>,
  db: Database,
  options: { listen?: boolean } = {},
): EventStore {
  let adapter: EventStore;
  if (config.eventStore === 'kurrentdb') {
    if (!config.kurrentDbUrl) throw new Error('invariant violated: EVENT_STORE=kurrentdb without KURRENTDB_URL passed configuration checks');
    adapter = new KurrentDbEventStore(config.kurrentDbUrl);
  } else {
    // Group commit: concurrent commands on different streams share one statement and one commit.
    const maxBatch = config.groupCommitMaxBatch ?? 256;
    adapter = new PostgresEventStore(db, { listen: options.listen ?? true, groupCommit: maxBatch > 1 ? { maxBatch } : false });
  }
  return new UpcastingEventStore(adapter, UPCASTERS);
}

/** The services outside the ledger: WeChat and SMS (identity), the insurer (insurance), the payment gateway (payouts); real or simulated. */
export interface OutsideServices {
  wechat: WeChatPort;
  sms: SmsGatewayPort;
  insurer: InsurerPort;
  payments: PaymentGatewayPort;
  /** For the start-up log. */
  description: string;
  close(): Promise<void>;
}

/**
 * WeChat, the SMS gateway, the insurer and the payment gateway as configured; whichever is not
 * configured is served by a simulator (small HTTP servers on 127.0.0.1), as the embedded quick
 * start does for PostgreSQL and Redis. The payment gateway simulator keeps its payments in this
 * process's memory: a process of its own (a CLI command) gets an empty one, so
 * PAYMENT_GATEWAY_URL names the gateway every process shares.
 */
export async function connectOutsideServices(
  config: Pick<AppConfig, 'wechat' | 'sms' | 'insurer' | 'insurerTimeoutMs' | 'paymentGateway' | 'paymentGatewaySimulatorFaults' | 'smsSimulatorFaults'>,
): Promise<OutsideServices> {
  const simulators = config.wechat && config.sms && config.insurer ? undefined : await startSimulators({ smsFaults: config.smsSimulatorFaults });
  const paymentSimulator = config.paymentGateway ? undefined : await startPaymentGatewaySimulator({ faults: config.paymentGatewaySimulatorFaults });
  const wechat = config.wechat ?? { apiUrl: simulators!.url, appId: simulators!.settings.wechatAppId, appSecret: simulators!.settings.wechatAppSecret };
  const sms = config.sms ?? { apiUrl: simulators!.url, apiKey: simulators!.settings.smsApiKey };
  const insurer = config.insurer ?? { apiUrl: simulators!.url, apiKey: simulators!.settings.insurerApiKey };
  const payments = config.paymentGateway ?? { apiUrl: paymentSimulator!.url, apiKey: paymentSimulator!.apiKey, timeoutMs: 10_000 };
  return {
    wechat: new WeChatHttpClient({ baseUrl: wechat.apiUrl, appId: wechat.appId, appSecret: wechat.appSecret }),
    sms: new SmsHttpClient({ baseUrl: sms.apiUrl, apiKey: sms.apiKey }),
    insurer: new InsurerHttpClient({ baseUrl: insurer.apiUrl, apiKey: insurer.apiKey, timeoutMs: config.insurerTimeoutMs }),
    payments: new PaymentGatewayHttpClient({ baseUrl: payments.apiUrl, apiKey: payments.apiKey, timeoutMs: payments.timeoutMs }),
    description:
      `WeChat: ${config.wechat ? new URL(config.wechat.apiUrl).origin : `simulator at ${simulators!.url}`}; ` +
      `SMS: ${config.sms ? new URL(config.sms.apiUrl).origin : `simulator at ${simulators!.url} (messages: GET /simulator/sms/messages?phone=...)`}; ` +
      `insurer: ${config.insurer ? new URL(config.insurer.apiUrl).origin : `simulator at ${simulators!.url} (counts: GET /simulator/insurer/stats)`}; ` +
      `payment gateway: ${config.paymentGateway ? new URL(config.paymentGateway.apiUrl).origin : `simulator at ${paymentSimulator!.url} (GET /simulator/payments/stats)`}`,
    close: async () => {
      await simulators?.close();
      await paymentSimulator?.close();
    },
  };
}

/** The token service over JWT_SECRET (signing) and JWT_PREVIOUS_SECRETS (still accepted). */
export function tokenService(jwtSecret: string, previousSecrets: readonly string[] = []): TokenService {
  return new TokenService([jwtSecret, ...previousSecrets].map(signingKey));
}

export interface UnionLedgerOptions {
  config: Pick<AppConfig, 'eventStore' | 'kurrentDbUrl' | 'redisKeyPrefix' | 'scale'>;
  db: Database;
  /** Needed by leaderboards; one-shot commands without Redis leave it out. */
  redis?: Redis | undefined;
  /**
   * The fail-fast connection for reads on a request's path (Runtime.redisQueries); without it,
   * queries use `redis`, which waits through an outage (fine for one-shot commands).
   */
  redisQueries?: Redis | undefined;
  /** Needed by whatever reads or seals personal data; commands that touch none leave it out. */
  piiKeys?: PiiKeys | undefined;
  /**
   * READ_DATABASE_URL's replica (Runtime.readDb) and its settings: read-model queries of HTTP
   * requests go there, with read-your-writes through marks in `redis` (src/infra/read-replica.ts).
   */
  readReplica?: { db: Database; maxWaitMs: number; markTtlMs: number; onRoute?(route: ReadRoute): void } | undefined;
  /** Wake-ups for subscriptions; one-shot commands turn them off. */
  listen?: boolean;
  /** Every context's clock; tests move it. */
  clock?: () => Date;
  /** Member states kept by the command handler (default 100,000). */
  memberCacheEntries?: number;
  /** How long a check of the tree's version vouches for the cached paths of OrgAccess (default ORG_TREE_CHECK_MS; 0: every lookup checks). */
  orgTreeCheckMs?: number;
  /** The benefits context's settings (approval threshold, authorisation and code lifetimes). */
  benefits?: Partial<BenefitsSettings> | undefined;
  /** The mall's settings (an order's time to pay, the holds' grace beyond it). */
  mall?: Partial<MallSettings> | undefined;
  /** A background task of a context failed (it is retried); for the service's log. */
  onBackgroundError?(task: string, error: unknown): void;
  /** The insurer: needed by whatever carries out insurance grants (the insurance worker). */
  insurer?: InsurerPort | undefined;
  /** The queues (src/workers/dead-letters.ts): needed by the admin routes over dead letters. */
  jobQueues?: JobQueuesPort | undefined;
  /** The payment gateway: needed by the payouts worker and reconciliation (connectOutsideServices). */
  payments?: PaymentGatewayPort | undefined;
  /** The SMS gateway: needed by the SMS worker (default: the identity's `outside.sms`). */
  sms?: SmsGatewayPort | undefined;
  /** Roster uploads of at least this many rows run as jobs (IMPORT_ASYNC_MIN_ROWS; default DEFAULT_IMPORT_SETTINGS). */
  imports?: Partial<ImportSettings> | undefined;
  /** Tokens, sessions and activation: needed by the HTTP service, not by one-shot commands. */
  identity?: { tokens: TokenService; outside: Pick<OutsideServices, 'wechat' | 'sms'> } | undefined;
}

export interface ImportSettings {
  /** Uploads of at least this many rows are stored sealed and run as a job (202); smaller ones run in the request. */
  asyncMinRows: number;
}

/**
 * Another process's move of an organisation is seen by this one's authorisation checks within this
 * long: one read of the tree's version vouches for the cached paths that long (a move made by this
 * process is seen at once).
 */
export const ORG_TREE_CHECK_MS = 250;

export const DEFAULT_IMPORT_SETTINGS: ImportSettings = { asyncMinRows: 1_000 };

/** The ledger's contexts over one event store, wired once per process. */
export class UnionLedger {
  readonly store: EventStore;
  readonly db: Database;
  /** Routes the HTTP requests' read-model queries to the replica, when one is configured. */
  readonly readRouting: ReadRouting | undefined;
  // orgs
  readonly orgs: OrgService;
  readonly orgDirectory: OrgDirectory;
  readonly orgAccess: OrgAccess;
  // earning
  readonly rules: RuleBook;
  readonly quizzes: QuizBook;
  // members
  readonly members: MemberService;
  // benefits
  readonly benefits: Benefits;
  // sms: one-time codes requested durably, sent by the SMS worker
  readonly sms: SmsService;
  // mall
  readonly mall: Mall;
  // claims
  readonly lotteries: Lotteries;
  // lifecycle: transfers, parking, leaving, joining online; changes to the tree
  readonly lifecycle: MemberLifecycle;
  readonly orgChanges: OrgChanges;
  private claimsOrUndefined: Claims | undefined;
  private readonly claimGateRedis: Redis | undefined;
  private readonly redisKeyPrefix: string;
  // campaigns: per-unit targets, progress, milestones, weekly reports
  readonly campaigns: Campaigns;
  // audit: the auditor routes' reads, each logged; the seals of the stream heads
  readonly auditor: AuditorReads;
  readonly seals: Seals;
  // identity
  private readonly identityOrUndefined: { tokens: TokenService; sessions: SessionService; revocations: SessionRevocations; activation: ActivationService; wechat: WeChatPort } | undefined;
  /** Lag per projection: the PostgreSQL read models and the leaderboard. */
  readonly lag: Record<string, LagTracker>;
  private readonly leaderboardsOrUndefined: Leaderboards | undefined;
  private readonly vaultOrUndefined: PiiVault | undefined;
  private accountsOrUndefined: AccountService | undefined;
  private insuranceGrantsOrUndefined: InsuranceGrants | undefined;
  private readonly insurerOrUndefined: InsurerPort | undefined;
  private readonly deadLettersOrUndefined: DeadLetters | undefined;
  private readonly paymentsOrUndefined: PaymentGatewayPort | undefined;
  private payoutEffectOrUndefined: PayoutEffect | undefined;
  private rosterImportsOrUndefined: RosterImports | undefined;
  /** The imports context's settings (the threshold above which an upload becomes a job). */
  readonly importSettings: ImportSettings;
  private reconciliationOrUndefined: PayoutReconciliation | undefined;
  private projections: SubscriptionHandle[] = [];
  /** The projections' leadership (src/infra/leadership.ts), once startProjections ran. */
  private projectionLeadership: Leadership | undefined;
  /** PROJECTION_PARTITIONS: partitions of each partitionable projection and of the leaderboards. */
  readonly projectionPartitions: number;
  private readonly leadershipTickMs: number;
  private readonly clock: (() => Date) | undefined;

  constructor(options: UnionLedgerOptions) {
    this.db = options.db;
    this.clock = options.clock;
    if (options.readReplica) {
      if (!options.redis) throw new Error('invariant violated: read-your-writes on a replica needs Redis (the callers\' write marks)');
      const { db: replica, maxWaitMs, markTtlMs, onRoute } = options.readReplica;
      const marks = new RedisWriteMarks(options.redis, options.config.redisKeyPrefix, markTtlMs);
      this.readRouting = new ReadRouting({ primary: options.db, replica, marks, maxWaitMs, ...(onRoute ? { onRoute } : {}) });
    } else {
      this.readRouting = undefined;
    }
    this.projectionPartitions = options.config.scale?.projectionPartitions ?? 1;
    this.leadershipTickMs = options.config.scale?.leadershipTickMs ?? 1_000;
    this.store = createEventStore(options.config, options.db, { listen: options.listen ?? true });
    this.vaultOrUndefined = options.piiKeys ? new PiiVault(options.db, options.piiKeys) : undefined;
    this.paymentsOrUndefined = options.payments;
    this.importSettings = { ...DEFAULT_IMPORT_SETTINGS, ...options.imports };
    this.orgs = new OrgService(this.store);
    this.orgDirectory = new OrgDirectory(options.db);
    this.orgAccess = new OrgAccess(this.orgs, options.orgTreeCheckMs ?? ORG_TREE_CHECK_MS);
    this.rules = new RuleBook(this.store);
    this.quizzes = new QuizBook(this.store);
    this.members = new MemberService(this.store, this.rules, {
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.memberCacheEntries ? { cacheEntries: options.memberCacheEntries } : {}),
    });
    this.benefits = new Benefits({
      store: this.store,
      db: options.db,
      reads: () => this.reads,
      vault: () => this.vault,
      orgs: this.orgs,
      orgAccess: this.orgAccess,
      ...(options.benefits ? { settings: options.benefits } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.memberCacheEntries ? { walletCacheEntries: options.memberCacheEntries } : {}),
      ...(options.onBackgroundError ? { onBackgroundError: options.onBackgroundError } : {}),
    });
    const smsGateway = options.sms ?? options.identity?.outside.sms;
    this.sms = new SmsService({
      store: this.store,
      members: this.members,
      vault: () => this.vault,
      gateway: () => {
        if (!smsGateway) throw new Error('invariant violated: sending SMS needs the SMS gateway, and this process was started without it');
        return smsGateway;
      },
      ...(options.clock ? { clock: options.clock } : {}),
    });
    this.mall = new Mall({
      store: this.store,
      db: options.db,
      vault: () => this.vault,
      orgAccess: this.orgAccess,
      members: this.members,
      wallets: this.benefits.handlers.wallets,
      ...(options.mall ? { settings: options.mall } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
    });
    this.lotteries = new Lotteries({
      store: this.store,
      db: this.db,
      members: this.members,
      orgAccess: this.orgAccess,
      vault: () => this.vault,
      ...(options.clock ? { clock: options.clock } : {}),
    });
    // The gate is on a claim's path: the fail-fast connection, so an outage answers at once instead of queueing the burst.
    this.claimGateRedis = options.redisQueries ?? options.redis;
    this.redisKeyPrefix = options.config.redisKeyPrefix;
    if (options.identity) {
      const { tokens, outside } = options.identity;
      const clock = options.clock ?? (() => new Date());
      // The sessions' housekeeping (revocations read, sealed successors erased) is started by the HTTP app (createHttpApp), the one place access tokens are checked.
      const revocations = new SessionRevocations(options.db, clock);
      this.identityOrUndefined = {
        tokens,
        sessions: new SessionService(options.db, tokens, clock, revocations),
        revocations,
        activation: new ActivationService({
          db: options.db,
          store: this.store,
          members: this.members,
          vault: this.vault,
          sms: this.sms,
          clock,
        }),
        wechat: outside.wechat,
      };
    }
    this.campaigns = new Campaigns({ store: this.store, db: options.db, orgAccess: this.orgAccess, ...(options.clock ? { clock: options.clock } : {}) });
    this.auditor = new AuditorReads(this.store, options.db, options.clock);
    this.seals = new Seals(this.store, options.db);
    this.lifecycle = new MemberLifecycle({
      store: this.store,
      db: options.db,
      members: this.members,
      orgs: this.orgs,
      access: this.orgAccess,
      vault: () => this.vault,
      ...(options.clock ? { clock: options.clock } : {}),
    });
    this.orgChanges = new OrgChanges({
      orgs: this.orgs,
      access: this.orgAccess,
      db: options.db,
      members: this.lifecycle,
      settle: () => this.settleTree(),
      onTreeChanged: () => {
        this.orgAccess.invalidate();
        this.orgDirectory.invalidate();
      },
    });
    this.insurerOrUndefined = options.insurer;
    this.deadLettersOrUndefined = options.jobQueues ? new DeadLetters(options.jobQueues) : undefined;
    this.leaderboardsOrUndefined = options.redis ? new Leaderboards(options.redis, options.config.redisKeyPrefix, options.redisQueries, this.projectionPartitions) : undefined;
    this.lag = Object.fromEntries([...readModels().map((projection) => projection.name), LEADERBOARD_PROJECTION].map((name) => [name, new LagTracker()]));
  }

  /**
   * Where a read-model query reads: the database the request's read routing chose (the replica,
   * or the primary for a writer the replica has not caught up with), else the primary. Only for
   * queries: nothing written, and nothing a command decides on.
   */
  get reads(): Database {
    return currentReadDatabase() ?? this.db;
  }

  get vault(): PiiVault {
    if (!this.vaultOrUndefined) throw new Error('invariant violated: the personal-data vault needs PII keys, and this process was started without them');
    return this.vaultOrUndefined;
  }

  /** Admin, finance and auditor accounts (needs the vault: TOTP secrets are sealed). */
  get accounts(): AccountService {
    this.accountsOrUndefined ??= new AccountService({
      db: this.db,
      store: this.store,
      vault: this.vault,
      scopeExists: async (role, orgId) => (role === 'merchant' ? this.benefits.merchantAdmitted(orgId) : (await this.orgs.readOrg(orgId)).registered),
      ...(this.clock ? { clock: this.clock } : {}),
    });
    return this.accountsOrUndefined;
  }

  /** Tokens, sessions, activation and the WeChat port (the HTTP service's identity). */
  get identity(): { tokens: TokenService; sessions: SessionService; revocations: SessionRevocations; activation: ActivationService; wechat: WeChatPort } {
    if (!this.identityOrUndefined) throw new Error('invariant violated: this process was started without the identity services');
    return this.identityOrUndefined;
  }

  /** Carries out members' insurance grants (needs the insurer and the vault). */
  get insuranceGrants(): InsuranceGrants {
    if (!this.insurerOrUndefined) throw new Error('invariant violated: insurance grants need the insurer, and this process was started without it');
    this.insuranceGrantsOrUndefined ??= new InsuranceGrants({ store: this.store, members: this.members, vault: () => this.vault, insurer: this.insurerOrUndefined });
    return this.insuranceGrantsOrUndefined;
  }

  /** Limited-quota claims (needs Redis: the gate). */
  get claims(): Claims {
    const redis = this.claimGateRedis;
    if (!redis) throw new Error('invariant violated: claims need Redis (the gate), and this process was started without it');
    if (this.claimsOrUndefined) return this.claimsOrUndefined;
    const gate = new ClaimGate(redis, this.redisKeyPrefix);
    this.claimsOrUndefined = new Claims({
      store: this.store,
      db: this.db,
      members: this.members,
      orgAccess: this.orgAccess,
      gate: () => gate,
      mall: this.mall,
      ...(this.clock ? { clock: this.clock } : {}),
    });
    return this.claimsOrUndefined;
  }

  /** Failed jobs and their retry (needs the queues). */
  get deadLetters(): DeadLetters {
    if (!this.deadLettersOrUndefined) throw new Error('invariant violated: dead letters need the queues, and this process was started without them');
    return this.deadLettersOrUndefined;
  }

  /** Pays a settlement's payout exactly once (the payouts worker's effect; needs the vault and the payment gateway). */
  get payoutEffect(): PayoutEffect {
    this.payoutEffectOrUndefined ??= new PayoutEffect({ store: this.store, vault: this.vault, gateway: this.payments, ...(this.clock ? { clock: this.clock } : {}) });
    return this.payoutEffectOrUndefined;
  }

  /** Roster imports run as jobs (needs the vault: the upload is sealed, and so are the members' data). */
  get rosterImports(): RosterImports {
    this.rosterImportsOrUndefined ??= new RosterImports({
      store: this.store,
      db: this.db,
      vault: () => this.vault,
      members: this.members,
      orgs: this.orgs,
      orgAccess: this.orgAccess,
      ...(this.clock ? { clock: this.clock } : {}),
    });
    return this.rosterImportsOrUndefined;
  }

  /** A day's payouts against the gateway's statement (needs the payment gateway). */
  get reconciliation(): PayoutReconciliation {
    this.reconciliationOrUndefined ??= new PayoutReconciliation({ store: this.store, db: this.db, gateway: this.payments, ...(this.clock ? { clock: this.clock } : {}) });
    return this.reconciliationOrUndefined;
  }

  /** True when this process was given the payment gateway (the payouts worker and reconciliation need it). */
  get hasPaymentGateway(): boolean {
    return this.paymentsOrUndefined !== undefined;
  }

  private get payments(): PaymentGatewayPort {
    if (!this.paymentsOrUndefined) throw new Error('invariant violated: payouts need the payment gateway, and this process was started without it');
    return this.paymentsOrUndefined;
  }

  get leaderboards(): Leaderboards {
    if (!this.leaderboardsOrUndefined) throw new Error('invariant violated: leaderboards need Redis, and this process was started without it');
    return this.leaderboardsOrUndefined;
  }

  /**
   * Starts every checkpointed projection, each partition of it under its own leadership role: of
   * all the processes that call this against the same stores, exactly one runs a partition at a
   * time, and the roles spread over them (src/infra/leadership.ts). Failed batches are retried by
   * the runner and reported here.
   */
  startProjections(onError: (projection: string, error: unknown) => void, options: { log?: (line: string) => void; onLeadership?: (role: string, leader: boolean) => void } = {}): void {
    if (this.projectionLeadership) throw new Error('invariant violated: projections started twice');
    const leadership = new Leadership(this.db, {
      group: 'projections',
      tickMs: this.leadershipTickMs,
      ...(options.log ? { log: options.log } : {}),
      ...(options.onLeadership ? { onChange: options.onLeadership } : {}),
    });
    this.projectionLeadership = leadership;
    for (const projection of readModels()) {
      const lag = this.lag[projection.name]!;
      const tracked: Projection = {
        ...projection,
        apply: async (tx, events) => {
          await projection.apply(tx, events);
          lag.record(events); // Recorded when the batch is handed over; the checkpoint commits right after.
        },
      };
      const count = partitionCountOf(projection, this.projectionPartitions);
      for (const partition of partitions(count)) {
        leadership.add(partitionName(projection.name, partition), async (lease) => {
          try {
            await checkLayout(this.db, projection.name, count);
          } catch (error) {
            onError(projection.name, error);
            throw error;
          }
          return startProjection(this.store, this.db, tracked, {
            batchSize: 500,
            partition,
            fence: lease,
            onError: (error) => onError(projection.name, error),
          });
        });
      }
    }
    const leaderboards = this.leaderboardsOrUndefined;
    if (leaderboards) {
      for (const partition of leaderboards.partitions) {
        leadership.add(partitionName(LEADERBOARD_PROJECTION, partition), (lease) =>
          startLeaderboardProjection(this.store, leaderboards, {
            partition,
            fence: () => lease.fence(this.db),
            onError: (error) => onError(LEADERBOARD_PROJECTION, error),
            onApplied: (events) => this.lag[LEADERBOARD_PROJECTION]!.record(events),
          }),
        );
      }
    }
  }

  /**
   * Brings the orgs and members read models up to the end of the log now, beside their running
   * subscriptions (the checkpoint's compare-and-set lets both run; a catch-up that loses a batch carries on):
   * closing and merging a unit count its members and children from them.
   */
  private async settleTree(): Promise<void> {
    for (const projection of [orgsProjection(), membersProjection()]) {
      // Every partition of the layout the process runs (PROJECTION_PARTITIONS), never a checkpoint of another layout.
      for (const partition of partitions(partitionCountOf(projection, this.projectionPartitions))) {
        await catchUpProjection(this.store, this.db, projection, undefined, partition);
      }
    }
  }

  /** The projection roles (partitions included) this process leads now. */
  ledProjections(): string[] {
    return this.projectionLeadership?.held() ?? [];
  }

  /** Brings every PostgreSQL read model up to the end of the log now (tests, one-shot commands), partitions in parallel. */
  async catchUpReadModels(): Promise<void> {
    for (const projection of readModels()) {
      await Promise.all(partitions(partitionCountOf(projection, this.projectionPartitions)).map((partition) => catchUpProjection(this.store, this.db, projection, undefined, partition)));
    }
  }

  /** Empties every PostgreSQL read model and replays it from event zero; returns events applied per projection. */
  async rebuildReadModels(onProgress?: (projection: string, applied: number) => void): Promise<Record<string, number>> {
    const applied: Record<string, number> = {};
    for (const projection of readModels()) {
      applied[projection.name] = await rebuildProjection(this.store, this.db, projection, (count) => onProgress?.(projection.name, count), this.projectionPartitions);
    }
    return applied;
  }

  async close(): Promise<void> {
    await this.identityOrUndefined?.sessions.close();
    await this.benefits.stopSweeps();
    // A verification run in progress reads through the pool the caller closes next.
    await this.auditor.verifications.settled();
    await this.rosterImportsOrUndefined?.stop();
    await Promise.all(this.projections.map((handle) => handle.stop()));
    this.projections = [];
    await this.projectionLeadership?.close();
    this.projectionLeadership = undefined;
    await this.leaderboardsOrUndefined?.close();
    await this.store.close();
  }
}
