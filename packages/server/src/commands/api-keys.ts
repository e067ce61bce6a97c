/**
 * `api-keys create|list|revoke`: the broker's client keys. A key's secret exists in clear only in
 * the output of `create`; the server keeps its SHA-256 digest.
 */
import { digestApiKey, generateApiKey, generateApiKeyId } from '../api-keys.js';
import { ServerError } from '../errors.js';
import { parseInstallationId } from '../installation-id.js';
import { formatTable } from '../table.js';
import type { ApiKeyRecord } from '../types.js';
import type { CommandModule } from './context.js';

/** The installations a key may read, from `--installations T1,A1:T2` or `--all`. */
export function parseKeyScope(options: {
  installations?: string;
  all?: boolean;
}): ApiKeyRecord['installations'] {
  if (options.all && options.installations !== undefined) {
    throw new ServerError('invalid_request', 'give either --installations or --all, not both');
  }
  if (options.all) return '*';
  if (options.installations === undefined) {
    throw new ServerError(
      'invalid_request',
      'say which installations the key may read: --installations T1,A1:T2 or --all',
    );
  }
  const ids = options.installations
    .split(',')
    .map((id) => id.trim())
    .filter((id) => id !== '');
  if (ids.length === 0)
    throw new ServerError('invalid_request', '--installations needs at least one installation id');
  for (const id of ids) {
    try {
      parseInstallationId(id);
    } catch {
      throw new ServerError(
        'invalid_installation_id',
        `--installations: "${id}" is not an installation id (T…, E…, or <app id>:T…)`,
      );
    }
  }
  return [...new Set(ids)];
}

/** A key as `api-keys list --json` prints it: everything but the digest. */
function publicView(key: ApiKeyRecord) {
  return {
    id: key.id,
    name: key.name,
    installations: key.installations,
    created_at: new Date(key.createdAt).toISOString(),
    revoked_at: key.revokedAt === null ? null : new Date(key.revokedAt).toISOString(),
  };
}

export const apiKeysCommand: CommandModule = (program, context) => {
  const apiKeys = program
    .command('api-keys')
    .description('Create, list and revoke the API keys clients use to ask the broker for tokens.')
    .addHelpText(
      'after',
      '\nExamples:\n  $ slack-rotator api-keys create --name billing-worker --installations T0123ABCD,T0456EFGH\n  $ slack-rotator api-keys list\n  $ slack-rotator api-keys revoke key_3f9a1c2b7d4e',
    );

  apiKeys
    .command('create')
    .description('Create a key and print its secret — the only time it is ever shown.')
    .requiredOption('--name <name>', 'what the key is for (shown in listings)')
    .option('--installations <ids>', 'comma-separated installation ids the key may read (T…, E…, A…:T…)')
    .option('--all', 'the key may read every installation (and register or delete installations)')
    .addHelpText(
      'after',
      "\nExample:\n  $ slack-rotator api-keys create --name billing-worker --installations T0123ABCD\n\nStore the printed secret in your client's secret store: the server keeps only its SHA-256 digest.",
    )
    .action(async (options: { name: string; installations?: string; all?: boolean }) => {
      const name = options.name.trim();
      if (name === '') throw new ServerError('invalid_request', '--name must not be empty');
      const installations = parseKeyScope(options);
      await context.withBackends({ requireApps: false }, async (backends) => {
        const secret = generateApiKey();
        const record: ApiKeyRecord = {
          id: generateApiKeyId(),
          name,
          digest: digestApiKey(secret),
          installations,
          createdAt: backends.now(),
          revokedAt: null,
        };
        await backends.state.createApiKey(record);
        const scope = installations === '*' ? 'every installation' : installations.join(', ');
        context.io.stderr.write(`created ${record.id} "${name}" for ${scope}; its secret (shown once):\n`);
        context.io.stdout.write(`${secret}\n`);
      });
    });

  apiKeys
    .command('list')
    .description('List keys: id, name, installations, created, revoked (never a secret or digest).')
    .option('--json', 'print a JSON array')
    .addHelpText('after', '\nExample:\n  $ slack-rotator api-keys list --json')
    .action(async (options: { json?: boolean }) => {
      await context.withBackends({ requireApps: false }, async (backends) => {
        const keys = (await backends.state.listApiKeys()).map(publicView);
        const { stdout } = context.io;
        if (options.json) {
          stdout.write(`${JSON.stringify(keys, null, 2)}\n`);
          return;
        }
        if (keys.length === 0) {
          stdout.write('No API keys yet (slack-rotator api-keys create --help).\n');
          return;
        }
        stdout.write(
          formatTable(
            ['ID', 'NAME', 'INSTALLATIONS', 'CREATED', 'REVOKED'],
            keys.map((key) => [
              key.id,
              key.name,
              key.installations === '*' ? '*' : key.installations.join(','),
              key.created_at,
              key.revoked_at ?? '',
            ]),
          ),
        );
      });
    });

  apiKeys
    .command('revoke')
    .description('Revoke a key: the broker refuses it from now on.')
    .argument('<id>', 'the key id (key_…), as api-keys list shows it')
    .addHelpText('after', '\nExample:\n  $ slack-rotator api-keys revoke key_3f9a1c2b7d4e')
    .action(async (id: string) => {
      await context.withBackends({ requireApps: false }, async (backends) => {
        if (!(await backends.state.revokeApiKey(id, backends.now()))) {
          throw new ServerError(
            'not_found',
            `no unrevoked API key has id ${id} (see slack-rotator api-keys list)`,
          );
        }
        context.io.stdout.write(`revoked ${id}\n`);
      });
    });
};
