import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

/**
 * In a fresh process (this one's module graph is shared with other tests): imports
 * `sluice/operators`, lists the luxon and croner files loaded (ES modules through a load hook,
 * CommonJS in the require cache), then uses a calendar period and a cron pattern and lists them again.
 */
const PROBE = `
import { createRequire, register } from 'node:module';
const { port1, port2 } = new MessageChannel();
const loaded = new Set();
port1.on('message', (url) => loaded.add(url));
port1.unref();
register(
  'data:text/javascript,' + encodeURIComponent('let port; export function initialize(d) { port = d.port; } export async function load(url, context, next) { port.postMessage(url); return next(url, context); }'),
  { data: { port: port2 }, transferList: [port2] },
);
const seen = () => [...loaded, ...Object.keys(createRequire(process.cwd() + '/').cache)].filter((u) => /node_modules\\/(luxon|croner)\\//.test(u)).map((u) => u.match(/node_modules\\/(luxon|croner)\\//)[1]);
const operators = await import('sluice/operators');
await new Promise((r) => setTimeout(r, 50));
const atImport = [...new Set(seen())].sort();
const period = operators.calendarPeriodOf({ unit: 'month', timeZone: 'Europe/London' }, Date.parse('2026-03-15T12:00:00Z'));
operators.onWatermark({ boundary: '0 0 * * *', tz: 'UTC' });
await new Promise((r) => setTimeout(r, 50));
console.log(JSON.stringify({ atImport, afterUse: [...new Set(seen())].sort(), label: period.label }));
`;

it('sluice/operators loads luxon and croner at their first use, not at import (issue 14: start-up)', { timeout: 30_000 }, async () => {
  const env = { ...process.env, NODE_OPTIONS: '' };
  const { stdout } = await promisify(execFile)(process.execPath, ['--conditions=sluice-source', '--import', 'tsx', '--input-type=module', '-e', PROBE], {
    cwd: ROOT,
    env,
  });
  expect(JSON.parse(stdout)).toEqual({ atImport: [], afterUse: ['croner', 'luxon'], label: '2026-03' });
});
