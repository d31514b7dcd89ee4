import { InvalidConfigError } from '../errors.js';

/** A webhook signature scheme by its CLI name. */
export type SchemeName = 'standard-webhooks' | 'hmac-sha256';
export const SCHEME_NAMES: readonly SchemeName[] = ['standard-webhooks', 'hmac-sha256'];

/** One `--route` flag of `sluice ingest http`, parsed; unset options fall back to the command's flags. */
export interface RouteFlag {
  path: string;
  subject: string;
  scheme?: SchemeName | undefined;
  /** Environment variable holding this route's secret(s), space-separated. */
  secretEnv?: string | undefined;
  signatureHeader?: string | undefined;
  idHeader?: string | undefined;
  contentTypes?: string[] | undefined;
}

const KEYS = ['scheme', 'secret-env', 'signature-header', 'id-header', 'content-type'] as const;

/**
 * Parses `PATH=SUBJECT[;key=value...]`, keys: `scheme`, `secret-env`, `signature-header`,
 * `id-header`, `content-type` (comma-separated). A secret itself never goes in a route: only
 * the name of the variable holding it.
 * @throws InvalidConfigError naming the flag and the part at fault.
 */
export function parseRouteFlag(spec: string): RouteFlag {
  const [head = '', ...options] = spec.split(';');
  const eq = head.indexOf('=');
  if (eq <= 0 || eq === head.length - 1) throw new InvalidConfigError('sluice ingest http', '--route', `must be PATH=SUBJECT[;key=value...], got '${spec}'`);
  const route: RouteFlag = { path: head.slice(0, eq).trim(), subject: head.slice(eq + 1).trim() };
  for (const option of options) {
    const at = option.indexOf('=');
    const key = option.slice(0, at).trim();
    const value = option.slice(at + 1).trim();
    if (at <= 0 || value === '' || !(KEYS as readonly string[]).includes(key)) {
      throw new InvalidConfigError(
        'sluice ingest http',
        '--route',
        `option '${option}' of '${route.path}' must be one of ${KEYS.map((k) => `${k}=...`).join(', ')}`,
      );
    }
    if (key === 'scheme') {
      if (!(SCHEME_NAMES as readonly string[]).includes(value))
        throw new InvalidConfigError('sluice ingest http', '--route', `scheme of '${route.path}' must be ${SCHEME_NAMES.join(' or ')}, got '${value}'`);
      route.scheme = value as SchemeName;
    } else if (key === 'secret-env') route.secretEnv = value;
    else if (key === 'signature-header') route.signatureHeader = value;
    else if (key === 'id-header') route.idHeader = value;
    else
      route.contentTypes = value
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
  }
  return route;
}
