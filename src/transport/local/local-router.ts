import type { Envelope } from '../../envelope/envelope.js';
import { subjectMatches } from '../subject.js';

/** One subscription of the local transport. */
export interface LocalSub {
  readonly pattern: string;
  readonly queue: string | undefined;
  /** Cleared on unsubscribe, so deliveries already queued for it are dropped. */
  active: boolean;
  deliver(envelope: Envelope<Uint8Array>): void;
  complete(): void;
}

interface Route {
  readonly plain: readonly LocalSub[];
  readonly groups: ReadonlyMap<string, readonly LocalSub[]>;
}

const MAX_ROUTE_CACHE = 10_000;

/**
 * Who receives a subject, as nats-server decides it: every plain subscriber whose pattern matches,
 * plus one member of each matching queue group (round-robin per group name). Matches are cached
 * per subject (at most 10,000 subjects) and the cache is dropped whenever a subscription comes or
 * goes, so publishing to a known subject costs a map lookup.
 */
export class LocalRouter {
  private readonly subs = new Set<LocalSub>();
  private readonly routes = new Map<string, Route>();
  private readonly roundRobin = new Map<string, number>();

  add(sub: LocalSub): void {
    this.subs.add(sub);
    this.routes.clear();
  }

  remove(sub: LocalSub): void {
    sub.active = false;
    if (this.subs.delete(sub)) this.routes.clear();
  }

  /** A snapshot, for closing every subscription. */
  all(): LocalSub[] {
    return [...this.subs];
  }

  targets(subject: string): readonly LocalSub[] {
    let route = this.routes.get(subject);
    if (route === undefined) {
      const plain: LocalSub[] = [];
      const groups = new Map<string, LocalSub[]>();
      for (const sub of this.subs) {
        if (!subjectMatches(sub.pattern, subject)) continue;
        if (sub.queue === undefined) plain.push(sub);
        else groups.set(sub.queue, [...(groups.get(sub.queue) ?? []), sub]);
      }
      if (this.routes.size >= MAX_ROUTE_CACHE) this.routes.clear();
      route = { plain, groups };
      this.routes.set(subject, route);
    }
    if (route.groups.size === 0) return route.plain;
    const targets = [...route.plain];
    for (const [queue, members] of route.groups) {
      const turn = this.roundRobin.get(queue) ?? 0;
      this.roundRobin.set(queue, turn + 1);
      const member = members[turn % members.length];
      if (member !== undefined) targets.push(member);
    }
    return targets;
  }
}
