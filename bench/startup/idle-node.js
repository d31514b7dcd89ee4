// The floor of every start: Node itself, loading nothing, then idle. bench/startup.bench.ts
// measures it beside `sluice run` so the report shows what Node costs before any module loads.
process.stderr.write('sluice: running node alone\n');
setInterval(() => undefined, 1 << 30);
