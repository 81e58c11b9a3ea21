import { InvalidArgumentError, type Command } from 'commander';
import { MAX_TOKEN_TTL_SECONDS, ROLES, type Role } from '../application/identity';
import { tokenService } from '../composition-root';
import { loadConfig } from '../config/config';
import { loadOrCreateSecrets } from '../infra/secrets';

/**
 * `union-ledger token --sub m-1 --role member --org u-1 [--ttl 3600]`: prints a bearer token for
 * development and tests. It signs with the service's key (JWT_SECRET, else the one in
 * `${DATA_DIR}/secrets.json`, generated if missing), so the token works against a local service.
 * It needs no database. Members and visitors of a real deployment get their tokens by logging in.
 */

function role(value: string): Role {
  if (!(ROLES as readonly string[]).includes(value)) throw new InvalidArgumentError(`must be one of ${ROLES.join(', ')}`);
  return value as Role;
}

function ttlSeconds(value: string): number {
  const parsed = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(parsed) || parsed < 1 || parsed > MAX_TOKEN_TTL_SECONDS) {
    throw new InvalidArgumentError(`must be whole seconds from 1 to ${MAX_TOKEN_TTL_SECONDS}`);
  }
  return parsed;
}

function identifier(value: string): string {
  if (value.length === 0 || value.length > 200) throw new InvalidArgumentError('must be 1 to 200 characters');
  return value;
}

export function registerTokenCommand(program: Command): void {
  program
    .command('token')
    .description('print a bearer token (HS256 JWT with a key id) for development, signed with the service key')
    .requiredOption('--sub <id>', 'subject: the member, admin or auditor id', identifier)
    .requiredOption('--role <role>', `role: ${ROLES.join(' | ')}`, role)
    .requiredOption('--org <orgId>', 'organisation (union unit) id', identifier)
    .option('--ttl <seconds>', 'lifetime in seconds', ttlSeconds, 3600)
    .action(async (options: { sub: string; role: Role; org: string; ttl: number }) => {
      const config = loadConfig();
      const secrets = await loadOrCreateSecrets(config, (line) => process.stderr.write(`${line}\n`));
      const token = await tokenService(secrets.jwtSecret, config.jwtPreviousSecrets).sign(
        { sub: options.sub, role: options.role, org: options.org },
        { ttlSeconds: options.ttl },
      );
      process.stdout.write(`${token}\n`);
    });
}
