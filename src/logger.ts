/**
 * The one logger type Sluice writes to: the subset of pino's API it calls (a pino logger is
 * one, and so is any object with these four methods). Fields first, then the message, as pino
 * orders them. Never give it secrets.
 */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** A {@link Logger} that writes nothing. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * `logger` with `bindings` added to every line: pino's own `child` when the logger has one (so
 * its serializers and level stay), else a wrapper that merges the fields in.
 */
export function childLogger(logger: Logger, bindings: object): Logger {
  const child = (logger as { child?: unknown }).child;
  if (typeof child === 'function') return child.call(logger, bindings) as Logger;
  return {
    debug: (o, m) => logger.debug({ ...bindings, ...o }, m),
    info: (o, m) => logger.info({ ...bindings, ...o }, m),
    warn: (o, m) => logger.warn({ ...bindings, ...o }, m),
    error: (o, m) => logger.error({ ...bindings, ...o }, m),
  };
}
