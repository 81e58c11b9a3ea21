import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { readModels, tokenService, UnionLedger } from '../../src/composition-root';
import { loadConfig } from '../../src/config/config';
import { startSimulators, type Simulators } from '../../src/infra/simulators/simulators';
import { dumpTables, partitionCountOf, partitionName, partitions } from '../../src/projections';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { checkpointReached, lastFeedPosition } from '../support/feed';
import { exactlyOnceFigures, recordedOutcomes } from '../support/insurance';
import { testNationalId } from '../support/ledger-app';
import { testTimeout, waitFor } from '../support/wait-for';

/**
 * Many instances (issue 14): two API processes (the built service, WORKERS=off, two projection
 * partitions) and two worker processes (the built CLI's `worker`) against one PostgreSQL and one
 * Redis. Under load (check-ins over HTTP, round robin over the two APIs, and activations whose
 * insurance grants the workers carry out against the insurer simulator), the API that leads the
 * ledger projection and the worker that leads the relay are killed with SIGKILL. Then: every
 * check-in answered and recorded once (a client retries on the other API with the same
 * Idempotency-Key), every grant applied once at the insurer and recorded once, the projections
 * caught up and equal to a replay from event zero, `union-ledger verify` OK, and the killed
 * processes' roles led by the survivors.
 */

const MEMBERS = 120;
const TICK_MS = 200;
const root = path.join(__dirname, '..', '..');
const serviceEntry = path.join(root, 'dist', 'src', 'main.js');
const cliEntry = path.join(root, 'bin', 'union-ledger.js');

interface Child {
  name: string;
  child: ChildProcessWithoutNullStreams;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function spawnChild(name: string, args: string[], env: NodeJS.ProcessEnv): Child {
  const child = spawn(process.execPath, args, { env });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { name, child, output: () => output, exited };
}

/** The roles a process's log says it leads now (won and not lost since). */
function ledRoles(output: string): Set<string> {
  const roles = new Set<string>();
  for (const match of output.matchAll(/leadership \([a-z]+\): (?:leading ([^\s"]+)|([^\s"]+) (?:handed over|released))/g)) {
    if (match[1]) roles.add(match[1]);
    else roles.delete(match[2]!);
  }
  if (/leader session lost/.test(output)) roles.clear();
  return roles;
}

let database: TestDatabase;
let simulators: Simulators;
let ledger: UnionLedger;
let redis: Redis;
let dataDir: string;
const children: Child[] = [];
const prefix = `ul-test-many-${randomBytes(4).toString('hex')}:`;
const keys = { masterKey: randomBytes(32), hmacKey: randomBytes(32) };
const jwtSecret = randomBytes(32).toString('hex');

beforeAll(async () => {
  if (!existsSync(serviceEntry)) throw new Error(`${serviceEntry} is missing: run the tests with npm test (it builds first)`);
  database = await createTestDatabase();
  simulators = await startSimulators({ insurerFaults: { latencyMs: 20, lostAnswerRate: 0.05 } });
  ledger = new UnionLedger({ config: loadConfig({}), db: database.db, piiKeys: keys, listen: false });
  redis = new Redis(process.env.TEST_REDIS_URL!, { maxRetriesPerRequest: null });
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'union-ledger-many-'));
}, testTimeout());
afterAll(async () => {
  for (const each of children) if (each.child.exitCode === null && each.child.signalCode === null) each.child.kill('SIGKILL');
  await Promise.all(children.map((each) => each.exited));
  await ledger?.close();
  await simulators?.close();
  const stale = await redis?.keys(`${prefix}*`);
  if (stale && stale.length > 0) await Promise.all(stale.map((key) => redis.del(key)));
  await redis?.quit();
  await database?.drop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

it(
  'loses and doubles nothing when one of two APIs and one of two workers are killed -9 under load, and their roles move',
  async () => {
    const system = { type: 'system', id: 'e2e-many' };
    await ledger.orgs.registerOrganisation({ orgId: 'mi-p', name: 'Province', parentId: null, level: 'province' }, { commandId: 'org:mi-p', actor: system });
    await ledger.orgs.registerOrganisation({ orgId: 'mi-u', name: 'Union', parentId: 'mi-p', level: 'grassroots' }, { commandId: 'org:mi-u', actor: system });
    const members: Array<{ memberId: string; idHmac: string; name: string }> = [];
    for (let index = 0; index < MEMBERS; index += 1) {
      const nationalId = testNationalId(7_000 + index);
      const idHmac = ledger.vault.idHmac(nationalId);
      const memberId = ledger.vault.memberIdFor(idHmac);
      const piiCipher = await ledger.vault.seal(memberId, { idNumber: nationalId, phone: `1371000${String(index).padStart(4, '0')}` });
      const name = `会员${index}`;
      await ledger.members.execute(memberId, { type: 'EnrolMember', memberId, orgId: 'mi-u', name, idHmac, piiCipher }, { commandId: `enrol:${idHmac}`, actor: system });
      members.push({ memberId, idHmac, name });
    }

    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: database.url,
      REDIS_URL: process.env.TEST_REDIS_URL!,
      REDIS_KEY_PREFIX: prefix,
      DATA_DIR: dataDir,
      JWT_SECRET: jwtSecret,
      PII_MASTER_KEY: keys.masterKey.toString('base64'),
      PII_HMAC_KEY: keys.hmacKey.toString('base64'),
      INSURER_API_URL: simulators.url,
      INSURER_API_KEY: simulators.settings.insurerApiKey,
      INSURER_TIMEOUT_MS: '500',
      WORKER_LOCK_MS: '1500',
      PROJECTION_PARTITIONS: '2',
      LEADERSHIP_TICK_MS: String(TICK_MS),
      HTTP_MAX_EVENT_LOOP_DELAY_MS: '0',
      RATE_LIMIT_PER_SECOND: '1000',
      RATE_LIMIT_BURST: '1000',
      DATABASE_POOL_MAX: '8',
    };
    const apis = [spawnChild('api-1', [serviceEntry], { ...env, PORT: '0', WORKERS: 'off' }), spawnChild('api-2', [serviceEntry], { ...env, PORT: '0', WORKERS: 'off' })];
    const workers = [spawnChild('worker-1', [cliEntry, 'worker'], env), spawnChild('worker-2', [cliEntry, 'worker'], env)];
    children.push(...apis, ...workers);
    const urls: string[] = [];
    for (const api of apis) {
      const match = await waitFor(() => /listening on (http:\/\/[^\s]+) /.exec(api.output()) ?? (api.child.exitCode !== null ? null : undefined), {
        what: `${api.name} to listen`,
        seen: api.output,
      });
      urls.push(match[1]!);
    }
    for (const worker of workers) await waitFor(() => worker.output().includes('worker started'), { what: `${worker.name} to start`, seen: worker.output });
    // Every projection partition led by one API, the relay by one worker.
    const projectionRoles = [
      ...readModels().flatMap((projection) => partitions(partitionCountOf(projection, 2)).map((partition) => partitionName(projection.name, partition))),
      ...partitions(2).map((partition) => partitionName('leaderboard', partition)),
    ];
    await waitFor(
      () => {
        const [a, b] = apis.map((api) => ledRoles(api.output()));
        return a!.size > 0 && b!.size > 0 && projectionRoles.every((role) => a!.has(role) !== b!.has(role));
      },
      { what: 'the APIs to share the projection roles', seen: () => apis.map((api) => `${api.name}: ${[...ledRoles(api.output())].join(',')}`).join('; ') },
    );
    await waitFor(() => workers.filter((worker) => ledRoles(worker.output()).has('workers.relay')).length === 1, { what: 'one worker to lead the relay' });

    // The load: every member activated (in this process: each activation requests an insurance
    // grant the workers carry out) and checked in over HTTP, round robin; a check-in whose API
    // died is retried on the other with the same Idempotency-Key.
    const tokens = await Promise.all(members.map((member) => tokenService(jwtSecret).sign({ sub: member.memberId, role: 'member', org: 'mi-u' }, { ttlSeconds: 900 })));
    const dead = new Set<number>();
    const answers: number[] = new Array<number>(MEMBERS).fill(0);
    let done = 0;
    const checkIn = async (index: number): Promise<void> => {
      for (let attempt = 0; attempt < 20; attempt += 1) {
        const target = (index + attempt) % urls.length;
        if (dead.has(target)) continue;
        try {
          const response = await fetch(`${urls[target]}/v1/me/check-ins`, {
            method: 'POST',
            headers: { authorization: `Bearer ${tokens[index]}`, 'idempotency-key': `checkin-${index}` },
          });
          if (response.status >= 500) continue;
          answers[index] = response.status;
          done += 1;
          return;
        } catch {
          // The connection failed (the API was killed): the same key, on the other API.
        }
      }
    };
    let nextActivation = 0;
    const activations = async (): Promise<void> => {
      for (let index = nextActivation++; index < MEMBERS; index = nextActivation++) {
        const member = members[index]!;
        await ledger.members.execute(member.memberId, { type: 'ActivateMember', name: member.name }, { commandId: `activate:${member.idHmac}`, actor: system });
        await checkIn(index);
      }
    };
    const load = Promise.all(Array.from({ length: 6 }, activations));

    // Kill -9, mid-load: the API leading the ledger projection and the worker leading the relay.
    await waitFor(() => done >= MEMBERS / 3, { what: `a third of the check-ins`, intervalMs: 20 });
    const apiVictim = apis.findIndex((api) => ledRoles(api.output()).has('ledger'));
    const workerVictim = workers.findIndex((worker) => ledRoles(worker.output()).has('workers.relay'));
    expect(apiVictim).toBeGreaterThanOrEqual(0);
    expect(workerVictim).toBeGreaterThanOrEqual(0);
    const rolesOfVictim = [...ledRoles(apis[apiVictim]!.output())];
    dead.add(apiVictim);
    apis[apiVictim]!.child.kill('SIGKILL');
    workers[workerVictim]!.child.kill('SIGKILL');
    expect((await apis[apiVictim]!.exited).signal).toBe('SIGKILL');
    expect((await workers[workerVictim]!.exited).signal).toBe('SIGKILL');
    await load;

    // Leadership moved: the survivors lead every role the killed ones did.
    const survivorApi = apis[1 - apiVictim]!;
    const survivorWorker = workers[1 - workerVictim]!;
    await waitFor(() => rolesOfVictim.every((role) => ledRoles(survivorApi.output()).has(role)), {
      what: `the surviving API to lead ${rolesOfVictim.join(', ')}`,
      seen: () => [...ledRoles(survivorApi.output())].join(','),
    });
    await waitFor(() => ledRoles(survivorWorker.output()).has('workers.relay'), { what: 'the surviving worker to lead the relay', seen: survivorWorker.output });

    // 0 lost, 0 doubled: every check-in answered 201 once and recorded once; every grant applied once.
    expect(answers.filter((status) => status !== 201)).toEqual([]);
    const checkIns = await database.db.one<{ count: string }>(`SELECT count(*) FROM ul_events WHERE event_type = 'CheckedIn'`);
    expect(Number(checkIns.count)).toBe(MEMBERS);
    await waitFor(async () => (await recordedOutcomes(ledger.store)).length >= MEMBERS, {
      what: `${MEMBERS} insurance outcomes`,
      intervalMs: 200,
      seen: () => `${JSON.stringify(simulators.insurer.stats())}\n${survivorWorker.output().slice(-2000)}`,
    });
    const figures = await exactlyOnceFigures(ledger.store, simulators, members.map((member) => `${member.memberId}:activation-insurance`));
    expect(figures).toEqual({ grants: MEMBERS, applied: MEMBERS, lost: 0, duplicated: 0, mismatched: 0 });

    // Projections caught up, on the survivor: every partition's checkpoint and the leaderboards'.
    const end = (await lastFeedPosition(database.db))!;
    const auditor = await tokenService(jwtSecret).sign({ sub: 'e2e-auditor', role: 'auditor', org: 'mi-p' }, { ttlSeconds: 600 });
    let progress: { checkpoints?: Record<string, string>; leaderboardCheckpoint?: string } = {};
    await waitFor(
      async () => {
        const answer = await fetch(`${urls[1 - apiVictim]}/v1/admin/projections`, { headers: { authorization: `Bearer ${auditor}` } });
        progress = (await answer.json()) as typeof progress;
        if (answer.status !== 200) return false;
        for (const role of projectionRoles.filter((name) => !name.startsWith('leaderboard'))) {
          if (!(await checkpointReached(database.db, progress.checkpoints?.[role], end))) return false;
        }
        return checkpointReached(database.db, progress.leaderboardCheckpoint, end);
      },
      { what: `every projection partition to reach position ${end}`, seen: () => JSON.stringify(progress), intervalMs: 200 },
    );

    // The live read models, built through kills and hand-overs, equal a replay from event zero.
    survivorApi.child.kill('SIGTERM');
    survivorWorker.child.kill('SIGTERM');
    expect(await survivorApi.exited).toEqual({ code: 0, signal: null });
    expect(await survivorWorker.exited).toEqual({ code: 0, signal: null });
    const tables = readModels().flatMap((projection) => projection.tables);
    const live = await dumpTables(database.db, tables);
    const replay = new UnionLedger({ config: loadConfig({ PROJECTION_PARTITIONS: '2' }), db: database.db, piiKeys: keys, listen: false });
    try {
      await replay.rebuildReadModels();
    } finally {
      await replay.close();
    }
    expect(await dumpTables(database.db, tables)).toEqual(live);

    // `union-ledger verify`: hash chains intact, trial balance zero, journal and balances match.
    const verify = spawnChild('verify', [cliEntry, 'verify'], env);
    const exit = await verify.exited;
    expect({ exit, output: verify.output() }).toEqual({ exit: { code: 0, signal: null }, output: expect.stringContaining('OK: trial balance zero') });
    process.stdout.write(`many instances: ${JSON.stringify({ ...figures, checkIns: MEMBERS, killed: [apis[apiVictim]!.name, workers[workerVictim]!.name], moved: rolesOfVictim })}\n`);
  },
  testTimeout(4),
);
