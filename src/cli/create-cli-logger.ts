import { pino, type Logger, type LoggerOptions } from 'pino';

/** How the CLI writes its log: readable lines, or one JSON object per line. */
export type LogFormat = 'pretty' | 'json';
export const LOG_FORMATS: readonly LogFormat[] = ['pretty', 'json'];
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Options for {@link createCliLogger}. */
export interface CliLoggerOptions {
  level: string;
  /** Default: `pretty` when stderr is a terminal, else `json`. */
  format?: LogFormat | undefined;
}

/**
 * The one logger of a CLI command, on stderr: readable single lines on a terminal, JSON lines
 * otherwise (or as `format` says), so progress, warnings and errors never come out in two
 * shapes on two streams. stdout is left to a command's results (`describe`, `--version`).
 * Passwords and tokens under `nats` (or any `pass`/`token` field one level down) print as `***`.
 * Pretty lines show an error as `Name: message`; its stack only at `debug` and `trace`.
 * pino-pretty is imported only for the pretty format: a service logging JSON never loads it.
 */
export async function createCliLogger(options: CliLoggerOptions): Promise<Logger> {
  const format = options.format ?? (process.stderr.isTTY === true ? 'pretty' : 'json');
  const settings: LoggerOptions = {
    level: options.level,
    base: { app: 'sluice' },
    redact: { paths: ['nats.pass', 'nats.token', '*.pass', '*.token'], censor: '***' },
  };
  if (format === 'json') return pino(settings, pino.destination({ dest: 2, sync: true }));
  const { default: pretty } = await import('pino-pretty');
  const stacks = options.level === 'debug' || options.level === 'trace';
  // pino-pretty prints `err` as a block under the line, always; as `error` (a string) it stays on it.
  if (!stacks) settings.formatters = { log: ({ err, ...rest }) => (err === undefined ? rest : { ...rest, error: errorLine(err) }) };
  return pino(
    settings,
    pretty({
      destination: 2,
      sync: true,
      colorize: process.stderr.isTTY === true,
      singleLine: true,
      ignore: 'pid,hostname,app',
      translateTime: 'SYS:HH:MM:ss',
      ...(stacks ? {} : { errorLikeObjectKeys: [] }),
    }),
  );
}

function errorLine(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  const e = err as { type?: unknown; message?: unknown } | null;
  return typeof e?.message === 'string' ? `${typeof e.type === 'string' ? e.type : 'Error'}: ${e.message}` : String(err);
}
