/**
 * Mall order placement benchmark: `npm run bench:mall` (see docs/BENCHMARKS.md, "Mall orders").
 *
 *   1. A fresh ul_bench_<random> database (no Redis: the mall's path does not touch it).
 *   2. Fixture (not measured): a union tree, --members members enrolled and activated (100 points
 *      each) with ¥100.00 on their wallets, through the composition root's services; SKUs priced
 *      1 point + ¥0.01 with 1,000,000 units each.
 *   3. In this process, --clients concurrent clients for --seconds each, placing orders through the
 *      application layer (Mall.placeOrder: order, stock shard, points hold, wallet authorisation,
 *      order again; five appends): on one hot SKU split in 16 shards, on the same hot SKU in one
 *      shard (what the shards buy), and on 100 SKUs of 4 shards. Each client rotates over its own
 *      members, so the only contention is the stock's. Then plain autocommit single-row INSERTs at
 *      the same concurrency for the same time: the baseline the ratio is taken against.
 *   4. Checks after each run: stock reserved = orders accepted (nothing oversold) and every shard
 *      at or above zero.
 *
 * Flags: --seconds N (default 10), --clients N (default 16), --members N (default 1200), --keep.
 */
import { randomBytes } from 'node:crypto';
import { UnionLedger } from '../src/composition-root';
import { DomainError } from '../src/domain/shared';
import { walletCredit, walletStream } from '../src/domain/benefits';
import { stockStream } from '../src/domain/mall';
import type { Caller } from '../src/application/mall';
import type { Database } from '../src/infra/database';
import { createBenchDatabase, resolvePostgres } from './lib/database';
import { runLoad, type LoadResult } from './lib/load';
import { summarise } from './lib/stats';
import { fmtInt, fmtMs, fmtRatio, formatTable } from './lib/table';

const log = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};
process.stdout.on('error', () => undefined);

function flag(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  if (index < 0) return fallback;
  const value = Number(process.argv[index + 1]);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`--${name} takes a positive whole number`);
  return value;
}

const SECONDS = flag('seconds', 10);
const CLIENTS = flag('clients', 16);
const MEMBERS = flag('members', 1200);
const KEEP = process.argv.includes('--keep');
const STOCK = 1_000_000;
const system = { type: 'system', id: 'bench-mall' };
const admin: Caller = { sub: 'bench-admin', role: 'admin', org: 'bench-city' };

async function fixture(ledger: UnionLedger): Promise<Caller[]> {
  for (const [orgId, parentId, level] of [
    ['bench-prov', null, 'province'],
    ['bench-city', 'bench-prov', 'city'],
    ['bench-unit', 'bench-city', 'grassroots'],
  ] as const) {
    await ledger.orgs.registerOrganisation({ orgId, name: orgId, parentId, level }, { commandId: `org:${orgId}`, actor: system });
  }
  const members: Caller[] = [];
  const enrol = async (index: number) => {
    const memberId = `bench-member-${index}`;
    const name = `会员${index}`;
    await ledger.members.execute(memberId, { type: 'EnrolMember', memberId, orgId: 'bench-unit', name, idHmac: `hmac-${index}`, piiCipher: 'none' }, { commandId: `enrol:${index}`, actor: system });
    await ledger.members.execute(memberId, { type: 'ActivateMember', name }, { commandId: `activate:${index}`, actor: system });
    await ledger.benefits.handlers.wallets.handle(
      walletStream(memberId),
      () => [walletCredit(memberId, { batchId: 'bench', programmeId: 'bench', orgId: 'bench-prov' }, 10_000)],
      { commandId: `fund:${memberId}`, actor: system },
    );
    members.push({ sub: memberId, role: 'member', org: 'bench-unit' });
  };
  for (let start = 0; start < MEMBERS; start += 16) {
    await Promise.all(Array.from({ length: Math.min(16, MEMBERS - start) }, (_, offset) => enrol(start + offset)));
  }
  return members;
}

async function listSku(ledger: UnionLedger, skuId: string, shards: number): Promise<void> {
  await ledger.mall.listSku(admin, { skuId, productId: 'bench', productName: '压测商品', name: skuId, orgId: 'bench-city', pricePoints: 1, priceFen: 1, shards }, `list-${skuId}`);
  await ledger.mall.restock(admin, skuId, STOCK, `stock-${skuId}`);
}

interface Scenario {
  name: string;
  result: LoadResult;
  accepted: number;
  refused: Map<string, number>;
}

/** Places orders on `pick(worker, iteration)` for SECONDS with CLIENTS clients; each client cycles over its own members. */
async function placeOrders(ledger: UnionLedger, members: Caller[], name: string, pick: (worker: number, iteration: number) => string, tag: string): Promise<Scenario> {
  const refused = new Map<string, number>();
  let accepted = 0;
  const perClient = Math.floor(members.length / CLIENTS);
  const result = await runLoad({
    concurrency: CLIENTS,
    durationMs: SECONDS * 1000,
    operation: async (worker, iteration) => {
      const member = members[worker + CLIENTS * (iteration % perClient)]!;
      try {
        await ledger.mall.placeOrder(member, { skuId: pick(worker, iteration), quantity: 1, fulfilment: 'delivery', address: 'bench' }, `${tag}-${worker}-${iteration}`);
        accepted += 1;
        return 1;
      } catch (error) {
        const code = error instanceof DomainError ? error.code : (error as Error).name;
        refused.set(code, (refused.get(code) ?? 0) + 1);
        return 0;
      }
    },
  });
  return { name, result, accepted, refused };
}

async function checkStock(ledger: UnionLedger, skus: Array<{ skuId: string; shards: number }>, accepted: number): Promise<string> {
  let reserved = 0;
  let negative = 0;
  for (const { skuId, shards } of skus) {
    for (let shard = 0; shard < shards; shard += 1) {
      const { state } = await ledger.mall.stock.load(stockStream(skuId, shard));
      reserved += state.reserved;
      if (state.available < 0 || state.reserved < 0) negative += 1;
      if (state.available + state.reserved + state.sold !== Math.floor(STOCK / shards) + (shard < STOCK % shards ? 1 : 0)) negative += 1;
    }
  }
  return reserved === accepted && negative === 0 ? `ok (reserved ${fmtInt(reserved)} = orders accepted)` : `MISMATCH: reserved ${reserved}, accepted ${accepted}, bad shards ${negative}`;
}

async function insertBaseline(db: Database): Promise<LoadResult> {
  await db.none('CREATE TABLE bench_mall_baseline (id bigserial PRIMARY KEY, order_id text NOT NULL, data jsonb NOT NULL)');
  return runLoad({
    concurrency: CLIENTS,
    durationMs: SECONDS * 1000,
    operation: async (worker, iteration) => {
      await db.none({ name: 'bench-mall-baseline', text: 'INSERT INTO bench_mall_baseline (order_id, data) VALUES ($1, $2::jsonb)', values: [`${worker}-${iteration}`, '{"skuId":"hot","quantity":1}'] });
      return 1;
    },
  });
}

async function main(): Promise<void> {
  const server = await resolvePostgres(log);
  const bench = await createBenchDatabase(server.adminUrl, CLIENTS * 2 + 4);
  const ledger = new UnionLedger({
    config: { eventStore: 'postgres', kurrentDbUrl: undefined, redisKeyPrefix: `ul-bench-mall-${randomBytes(3).toString('hex')}:` },
    db: bench.db,
    listen: false,
    piiKeys: { masterKey: randomBytes(32), hmacKey: randomBytes(32) },
    // Orders are never confirmed here: a long time to pay keeps the sweep out of the measurement.
    mall: { orderTtlMs: 24 * 60 * 60 * 1000 },
  });
  try {
    log(`# bench:mall: ${CLIENTS} clients, ${SECONDS} s per run, ${MEMBERS} members; ${server.description}, database ${bench.name}`);
    let t0 = Date.now();
    const members = await fixture(ledger);
    log(`fixture: ${members.length} members enrolled, activated and funded in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    t0 = Date.now();
    await listSku(ledger, 'hot-16', 16);
    await listSku(ledger, 'hot-1', 1);
    const many = Array.from({ length: 100 }, (_, index) => `sku-${index}`);
    for (const skuId of many) await listSku(ledger, skuId, 4);
    log(`catalogue: 102 SKUs listed and stocked in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    const scenarios: Scenario[] = [];
    const checks: string[] = [];
    scenarios.push(await placeOrders(ledger, members, 'one hot SKU, 16 shards', () => 'hot-16', 'a'));
    checks.push(await checkStock(ledger, [{ skuId: 'hot-16', shards: 16 }], scenarios.at(-1)!.accepted));
    scenarios.push(await placeOrders(ledger, members, 'one hot SKU, 1 shard', () => 'hot-1', 'b'));
    checks.push(await checkStock(ledger, [{ skuId: 'hot-1', shards: 1 }], scenarios.at(-1)!.accepted));
    scenarios.push(await placeOrders(ledger, members, '100 SKUs, 4 shards each', (worker, iteration) => many[(worker * 7919 + iteration * 31) % many.length]!, 'c'));
    checks.push(await checkStock(ledger, many.map((skuId) => ({ skuId, shards: 4 })), scenarios.at(-1)!.accepted));
    const baseline = await insertBaseline(bench.db);
    const baselineRate = baseline.operations / baseline.elapsedS;
    const baselineLatency = summarise(baseline.latenciesMs);

    log();
    log(
      formatTable(
        ['run', 'orders/s', 'p50 ms', 'p99 ms', 'vs INSERT', 'refused', 'stock check'],
        [
          ...scenarios.map((scenario, index) => {
            const latency = summarise(scenario.result.latenciesMs);
            const rate = scenario.accepted / scenario.result.elapsedS;
            const refused = [...scenario.refused].map(([code, count]) => `${code} ${count}`).join(', ') || '0';
            return [scenario.name, fmtInt(rate), fmtMs(latency.p50), fmtMs(latency.p99), fmtRatio(rate / baselineRate), refused, checks[index]!];
          }),
          ['plain single-row INSERT (baseline)', fmtInt(baselineRate), fmtMs(baselineLatency.p50), fmtMs(baselineLatency.p99), '1.00x', '0', '-'],
        ],
      ),
    );
    log();
    log('An order is five appends (order, stock shard, points hold, wallet authorisation, order) plus the reads that catch each cached state up.');
  } finally {
    await ledger.close();
    await bench.close({ keep: KEEP });
    await server.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
