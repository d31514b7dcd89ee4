/**
 * What standard MessagePack costs on the hot path: `msgpackCodec` (msgpackr plus the pass that
 * writes 64-bit integers and drops undefined fields, and the pass that checks extension types on
 * decode) against plain msgpackr with the options the codec had before (integers past 32 bits as
 * float64, undefined as extension 0).
 *
 * Run: node --import tsx bench/codec.bench.ts [--rounds 3]
 * Each codec runs in its own child process (two msgpackr configurations in one process slow each
 * other's JIT), alternately, `rounds` times; a cell is the least CPU time per call (ns) seen, which
 * is the steadiest figure on a shared machine. Prints one JSON line per payload.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Packr } from 'msgpackr';
import { msgpackCodec } from '../src/codec/msgpack-codec.js';
import type { Codec } from '../src/codec/codec.js';

const NOW = 1_764_860_000_000;
const PAYLOADS: Record<string, unknown> = {
  'command, 3 fields': { orderId: 'o-12345', sku: 'TEE-BLK-M', quantity: 3 },
  'reserved, 5 fields with epoch ms': { orderId: 'o-12345', sku: 'TEE-BLK-M', quantity: 3, available: 17, expiresAt: NOW + 900_000 },
  'order, floats, 3 lines, epoch ms': {
    id: 'ord-000123',
    customer: 'c-42',
    total: 123.45,
    placedAt: NOW,
    lines: [1, 2, 3].map((i) => ({ sku: `SKU-${i}`, qty: i, price: 19.99 })),
  },
  'ledger chunk, 50 lines with epoch ms': { batch: 12, from: NOW, lines: Array.from({ length: 50 }, (_, i) => ({ sku: `SKU-${i}`, qty: i, at: NOW + i })) },
  'command with an undefined field': { orderId: 'o-12345', sku: 'TEE-BLK-M', quantity: 3, note: undefined },
};

function baseline(): Codec {
  const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true, variableMapSize: true });
  return { contentType: 'application/msgpack', encode: (v) => packr.pack(v), decode: (b) => packr.unpack(b) as unknown };
}

function cpuNsPerCall(fn: () => unknown, calls: number): number {
  const start = process.cpuUsage();
  for (let i = 0; i < calls; i++) fn();
  const d = process.cpuUsage(start);
  return ((d.user + d.system) * 1000) / calls;
}

/** In the child: one codec, every payload, `{ payload: [encodeNs, decodeNs] }` on stdout. */
function measure(codec: Codec): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (const [name, value] of Object.entries(PAYLOADS)) {
    const calls = name.startsWith('ledger') ? 5_000 : 50_000;
    const bytes = codec.encode(value);
    let enc = Infinity;
    let dec = Infinity;
    for (let k = 0; k < 30; k++) {
      enc = Math.min(
        enc,
        cpuNsPerCall(() => codec.encode(value), calls),
      );
      dec = Math.min(
        dec,
        cpuNsPerCall(() => codec.decode(bytes), calls),
      );
    }
    out[name] = [enc, dec];
  }
  return out;
}

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
};

const only = arg('only');
if (only !== undefined) {
  process.stdout.write(JSON.stringify(measure(only === 'sluice' ? msgpackCodec : baseline())));
} else {
  const rounds = Number(arg('rounds') ?? 3);
  const best: Record<'baseline' | 'sluice', Record<string, [number, number]>> = { baseline: {}, sluice: {} };
  for (let r = 0; r < rounds; r++) {
    for (const which of ['baseline', 'sluice'] as const) {
      const run = JSON.parse(
        execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--only', which], { encoding: 'utf8' }),
      ) as Record<string, [number, number]>;
      for (const [name, [e, d]] of Object.entries(run)) {
        const cur = best[which][name] ?? [Infinity, Infinity];
        best[which][name] = [Math.min(cur[0], e), Math.min(cur[1], d)];
      }
    }
  }
  for (const name of Object.keys(PAYLOADS)) {
    const [be, bd] = best.baseline[name]!;
    const [se, sd] = best.sluice[name]!;
    const pct = (a: number, b: number) => Math.round((a / b - 1) * 100);
    console.log(
      JSON.stringify({
        payload: name,
        bytes: msgpackCodec.encode(PAYLOADS[name]).length,
        encodeNs: { baseline: Math.round(be), sluice: Math.round(se), pct: pct(se, be) },
        decodeNs: { baseline: Math.round(bd), sluice: Math.round(sd), pct: pct(sd, bd) },
      }),
    );
  }
}
