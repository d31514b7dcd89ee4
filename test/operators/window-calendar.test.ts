import { from, toArray, firstValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../src/errors.js';
import { window, type WindowOutput } from '../../operators/window.js';

interface Ev {
  readonly id: string;
  readonly eventTime: number;
  readonly account: string;
}
const ev = (id: string, at: string, account = 'A'): Ev => ({ id, eventTime: Date.parse(at), account });
const show = (o: WindowOutput<Ev>) =>
  o.type === 'window'
    ? `${o.key ?? ''} ${new Date(o.start).toISOString()} ${new Date(o.end).toISOString()} ${o.value.map((e) => e.id).join('')}`
    : `late ${o.item.id} ${o.missed.map((m) => new Date(m.start).toISOString()).join(',')}`;

describe('window kind calendar', () => {
  it('cuts London months across the spring DST change: 23:30 UTC on 31 March is April, 22:30 is March', async () => {
    const events = [
      ev('a', '2026-03-01T00:00:00Z'),
      ev('b', '2026-03-31T22:30:00Z'),
      ev('c', '2026-03-31T23:30:00Z'),
      ev('d', '2026-04-15T12:00:00Z', 'B'),
      ev('e', '2026-05-02T00:00:00Z'),
    ];
    const out = await firstValueFrom(
      from(events).pipe(window({ kind: 'calendar', calendar: { unit: 'month', timeZone: 'Europe/London' }, keyOf: (e) => e.account }), toArray()),
    );
    expect(out.map(show)).toEqual([
      'A 2026-03-01T00:00:00.000Z 2026-03-31T23:00:00.000Z ab',
      'A 2026-03-31T23:00:00.000Z 2026-04-30T23:00:00.000Z c',
      'B 2026-03-31T23:00:00.000Z 2026-04-30T23:00:00.000Z d',
      'A 2026-04-30T23:00:00.000Z 2026-05-31T23:00:00.000Z e',
    ]);
  });

  it('a late-March event after March closed is late for March, never put in April', async () => {
    const events = [ev('a', '2026-03-20T10:00:00Z'), ev('b', '2026-04-02T10:00:00Z'), ev('late', '2026-03-31T22:00:00Z'), ev('c', '2026-04-03T10:00:00Z')];
    const out = await firstValueFrom(
      from(events).pipe(window({ kind: 'calendar', calendar: { unit: 'month', timeZone: 'Europe/London' }, allowedLatenessMs: 3_600_000 }), toArray()),
    );
    expect(out.map(show)).toEqual([
      ' 2026-03-01T00:00:00.000Z 2026-03-31T23:00:00.000Z a',
      'late late 2026-03-01T00:00:00.000Z',
      ' 2026-03-31T23:00:00.000Z 2026-04-30T23:00:00.000Z bc',
    ]);
  });

  it('rejects a calendar window without a valid calendar', () => {
    expect(() => window({ kind: 'calendar' })).toThrow(InvalidConfigError);
    expect(() => window({ kind: 'calendar', calendar: { unit: 'month', timeZone: 'Nowhere/Land' } })).toThrow(/calendar.timeZone/);
  });
});
