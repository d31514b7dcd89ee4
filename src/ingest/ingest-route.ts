import { InvalidConfigError } from '../errors.js';
import { validateSubject } from '../transport/subject.js';
import type { WebhookVerifier } from './webhook-verifier.js';

/** One webhook endpoint: POSTs to `path`, verified by `verifier`, recorded on `subject`. */
export interface IngestRoute {
  /** URL path, exact match (the query string is ignored), e.g. `/hooks/orders`. */
  path: string;
  /** JetStream subject each event is published to; a stream must capture it. */
  subject: string;
  verifier: WebhookVerifier;
  /** Accepted `Content-Type`s (parameters such as `charset` ignored). Default `['application/json']`. */
  contentTypes?: readonly string[] | undefined;
}

/** The media type of a `Content-Type` value, lower case, without parameters. */
export function mediaTypeOf(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

/**
 * Checks routes before the server starts: paths start with `/` and are unique, subjects are
 * valid publish subjects (no wildcards).
 * @throws InvalidConfigError naming the route and field.
 */
export function validateIngestRoutes(routes: readonly IngestRoute[]): void {
  if (routes.length === 0) throw new InvalidConfigError('ingest', 'routes', 'needs at least one route (path=subject)');
  const seen = new Set<string>();
  for (const route of routes) {
    if (!route.path.startsWith('/') || /[\s?#]/.test(route.path)) {
      throw new InvalidConfigError('ingest', 'path', `must start with '/' and hold no spaces, '?' or '#', got '${route.path}'`);
    }
    if (seen.has(route.path)) throw new InvalidConfigError('ingest', 'path', `'${route.path}' is given twice`);
    seen.add(route.path);
    try {
      validateSubject(route.subject, { wildcards: false });
    } catch (err) {
      throw new InvalidConfigError('ingest', 'subject', `of route '${route.path}' is not a publish subject: ${(err as Error).message}`, { cause: err });
    }
    if (route.contentTypes !== undefined && route.contentTypes.length === 0) {
      throw new InvalidConfigError('ingest', 'contentTypes', `of route '${route.path}' is empty: no request could be accepted`);
    }
  }
}
