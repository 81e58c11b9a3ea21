import { InvalidArgumentError, type Command } from 'commander';
import { UnionLedger } from '../composition-root';
import { loadConfig } from '../config/config';
import { loadPiiKeys } from '../infra/pii-keys';
import type { Runtime } from '../infra/runtime';
import { cliLog } from './cli-log';
import { DEMO_EVALUATION, DemoAlreadyLoaded, loadDemo, type DemoResult } from './demo';

/**
 * `union-ledger demo [--members N]`: loads the synthetic union of cli/demo.ts into the configured
 * database and prints how to log in. A second run refuses (exit 1) and says why: the accounts'
 * one-time passwords are shown once, and a second copy of the union would be noise.
 */

const MAX_MEMBERS = 100_000;

function count(value: string): number {
  const parsed = Number(value);
  if (!/^\d+$/.test(value) || parsed < 10 || parsed > MAX_MEMBERS) throw new InvalidArgumentError(`must be a whole number from 10 to ${MAX_MEMBERS}`);
  return parsed;
}

function instructions(result: DemoResult, baseUrl: string): string {
  const accounts = result.accounts.map((a) => `  ${a.username.padEnd(14)} ${a.role.padEnd(8)} ${a.orgId.padEnd(12)} password: ${a.password}`).join('\n');
  return `
Demo loaded in ${(result.elapsedMs / 1000).toFixed(1)} s: ${result.orgs} organisations, ${result.members} members (${result.activated} activated),
${result.checkIns} check-ins, ${result.quizAnswers} quiz answers and ${result.evaluations} evaluations (${DEMO_EVALUATION}) over the past week.

Web console: ${baseUrl}/console   (start the service first: npm start)
Accounts (the one-time passwords are shown only now):
${accounts}
  demo-admin sees the whole union; demo-county only 京口区 (a sibling's units are hidden);
  demo-finance approves the batch waiting in 审批事项 (proposal ${result.pendingProposalId}); demo-auditor reads everything.
  目标任务 shows the activation campaign ${result.campaignId}: progress per county and unit, milestones, this week's report.

As a member (the mini-program's path, with the service's simulators; see the README walk-through):
  ${result.trialMember.name} is enrolled at ${result.trialMember.orgId} and not yet activated:
  national ID ${result.trialMember.nationalId}, phone ${result.trialMember.phone}
  1. CODE: POST $SIM/simulator/wechat/codes {"user":"demo-member"}      ($SIM: the simulators' address in the service log)
  2. POST ${baseUrl}/v1/sessions/wechat {"code":"<CODE>"}                 → a visitor token
  3. POST ${baseUrl}/v1/activation/start {"nationalId":"${result.trialMember.nationalId}","name":"${result.trialMember.name}"}
  4. the SMS code: GET $SIM/simulator/sms/messages?phone=${result.trialMember.phone}
  5. POST ${baseUrl}/v1/activation/confirm {"challengeId":"…","code":"…"}   → a member token
Or a development token for an active member (${result.activeMember.name}):
  npx union-ledger token --sub ${result.activeMember.memberId} --role member --org ${result.activeMember.orgId}
`;
}

export function registerDemoCommand(program: Command, deps: { withRuntime<T>(work: (runtime: Runtime) => Promise<T>): Promise<T> }): void {
  program
    .command('demo')
    .description('load a synthetic union (a city, its counties, 50 unions, 5,000 members, a week of activity, accounts) and print how to log in')
    .option('--members <n>', 'members to enrol', count, 5000)
    .option('--concurrency <n>', 'commands at once (the event store groups concurrent appends into one commit)', (value) => Math.max(1, Math.min(256, Number(value) || 64)), 64)
    .action(async (options: { members: number; concurrency: number }) => {
      const config = loadConfig();
      const log = cliLog(config);
      const piiKeys = loadPiiKeys(config, { log: log.warn });
      const clock = { nowMs: Date.now() };
      const outcome = await deps.withRuntime(async (runtime) => {
        // The demo's week is in the past: every service runs on this clock, which loadDemo moves.
        const ledger = new UnionLedger({ config, db: runtime.db, piiKeys, listen: false, clock: () => new Date(clock.nowMs), memberCacheEntries: 10_000 });
        try {
          return await loadDemo(ledger, clock, { members: options.members, concurrency: options.concurrency, log: (line) => process.stdout.write(`${line}\n`) });
        } catch (error) {
          if (error instanceof DemoAlreadyLoaded) return error;
          throw error;
        } finally {
          await ledger.close();
        }
      });
      if (outcome instanceof DemoAlreadyLoaded) {
        process.stderr.write(
          `demo not loaded: ${outcome.message}.\n` +
            'Its accounts exist already (demo-admin, demo-finance, demo-county, demo-auditor); their passwords were printed by the first run.\n' +
            'To load it again, use a new database (a new DATA_DIR for the embedded PostgreSQL, or another DATABASE_URL).\n',
        );
        process.exitCode = 1;
        return;
      }
      const host = config.host === '0.0.0.0' ? '127.0.0.1' : config.host;
      process.stdout.write(instructions(outcome, `http://${host}:${config.port}`));
    });
}
