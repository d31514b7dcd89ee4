import type { Command } from 'commander';

/**
 * Adds the NATS connection flags (read by `natsOptionsFromFlags`) to a command. `whenNone` says
 * what the command does without `--nats` or `NATS_URL`.
 */
export function withNatsFlags(command: Command, whenNone: string): Command {
  return command
    .option('--nats <url>', `NATS server URL(s), comma-separated [env NATS_URL]; without one: ${whenNone}`)
    .option('--creds <file>', 'credentials file (JWT + nkey seed) [env NATS_CREDS]')
    .option('--nkey <file>', 'nkey seed file [env NATS_NKEY]')
    .option('--token <token>', 'auth token [env NATS_TOKEN; prefer it: command lines are visible to other users]')
    .option('--user <user>', 'user name [env NATS_USER]')
    .option('--password <password>', 'password [env NATS_PASSWORD; prefer it]')
    .option('--tls-ca <file>', 'CA certificate to trust [env NATS_CA]')
    .option('--tls-cert <file>', 'client certificate [env NATS_CERT]')
    .option('--tls-key <file>', 'client key [env NATS_KEY]');
}
