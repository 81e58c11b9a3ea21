import os from 'node:os';
import { InvalidArgumentError, type Command } from 'commander';
import { ACCOUNT_ROLES, type AccountRole } from '../application/identity';
import { DomainError } from '../domain/shared';
import { UnionLedger } from '../composition-root';
import { loadConfig } from '../config/config';
import { loadPiiKeys } from '../infra/pii-keys';
import type { Runtime } from '../infra/runtime';

/**
 * `union-ledger admin create --org ORG --role admin|finance|auditor|merchant --name NAME --username USER [--totp]`:
 * creates an account and prints its one-time password (and the TOTP otpauth:// URI to scan) once.
 * The first root admin of a new ledger is made this way; root admins create the others over the API.
 * A merchant account is a merchant's till terminal: its --org is the id of an admitted merchant.
 * A refusal (an unknown organisation or merchant, a taken username) is one line on stderr and exit 1.
 */

function role(value: string): AccountRole {
  if (!(ACCOUNT_ROLES as readonly string[]).includes(value)) throw new InvalidArgumentError(`must be one of ${ACCOUNT_ROLES.join(', ')}`);
  return value as AccountRole;
}

export function registerAdminCommand(program: Command, deps: { withRuntime<T>(work: (runtime: Runtime) => Promise<T>): Promise<T> }): void {
  const admin = program.command('admin').description('accounts of union admins, finance approvers, auditors and merchant terminals');
  admin
    .command('create')
    .description('create an account; prints its one-time password once')
    .requiredOption('--org <orgId>', 'the organisation the account administers (its subtree); for --role merchant, the admitted merchant’s id')
    .requiredOption('--role <role>', ACCOUNT_ROLES.join(' | '), role)
    .requiredOption('--name <name>', "the person's name")
    .requiredOption('--username <username>', '3-64 of a-z 0-9 . _ -')
    .option('--totp', 'enrol a TOTP second factor and print its otpauth:// URI')
    .action(async (options: { org: string; role: AccountRole; name: string; username: string; totp?: boolean }) => {
      const config = loadConfig();
      const piiKeys = loadPiiKeys(config, { log: (line) => process.stderr.write(`${line}\n`) });
      const created = await deps.withRuntime(async (runtime) => {
        const ledger = new UnionLedger({ config, db: runtime.db, piiKeys, listen: false });
        try {
          let operator = 'unknown';
          try {
            operator = os.userInfo().username;
          } catch {
            // Containers may run under a uid with no passwd entry.
          }
          return await ledger.accounts.create(
            { username: options.username, name: options.name, orgId: options.org, role: options.role, totp: options.totp ?? false },
            { type: 'operator', id: `cli:${operator}` },
          );
        } catch (error) {
          // The operator's mistake (MERCHANT.NOT_FOUND, ACCOUNT.USERNAME_TAKEN ...) is a line to read, not a stack trace.
          if (error instanceof DomainError) return error;
          throw error;
        } finally {
          await ledger.close();
        }
      });
      if (created instanceof DomainError) {
        process.stderr.write(`account not created: ${created.code} ${created.message}\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(
        `account ${created.account.accountId}: ${created.account.username} (${created.account.role} of ${created.account.orgId})\n` +
          `one-time password (shown once): ${created.password}\n` +
          (created.totpUri ? `TOTP (scan into an authenticator app): ${created.totpUri}\n` : ''),
      );
    });
}
