/** An input the crash test published: its id (payload `id` and `Nats-Msg-Id`), number and stream position. */
export interface CrashInput {
  readonly id: string;
  readonly n: number;
  /** Stream sequence (stream inputs only). */
  readonly seq?: number | undefined;
}

/** An output as read back: the input id its payload carries, where it went, its message id. */
export interface CrashOutput {
  /** The payload's `id`; undefined when the payload carries none. */
  readonly id: string | undefined;
  /** The subject below the row's output prefix (`<out>.even` → `even`). */
  readonly to: string;
  readonly msgId?: string | undefined;
  readonly data: unknown;
}

/** What the outputs say about the inputs. */
export interface Tally {
  readonly outputs: number;
  /** Expected outputs that are missing. */
  readonly lost: number;
  /** Outputs beyond the expected one (same input, same target). */
  readonly duplicated: number;
  /** Outputs no input should have produced (a filtered input, an unknown id, a wrong target). */
  readonly unexpected: number;
  /** Payload and message-id problems, the first few of each kind. */
  readonly problems: readonly string[];
}

/** Checks beyond counting. */
export interface TallyChecks {
  /** Whether an output's payload is what input `n` should produce. */
  payloadOk?: ((data: unknown, n: number) => boolean) | undefined;
  /** The text an output's `Nats-Msg-Id` must contain for `input` (derived from its position). */
  msgIdPart?: ((input: CrashInput) => string) | undefined;
}

const MAX_PROBLEMS = 5;

/**
 * Counts outputs by input id and target: every input should produce exactly the targets `expect`
 * names (none for a filtered input). Lost, duplicated and unexpected outputs are counted, not
 * listed, so a test can state its guarantee as numbers (exactly-once: 0, 0, 0).
 */
export function tallyOutputs(
  inputs: readonly CrashInput[],
  outputs: readonly CrashOutput[],
  expect: (n: number) => readonly string[],
  checks: TallyChecks = {},
): Tally {
  const byId = new Map(inputs.map((i) => [i.id, i]));
  const got = new Map<string, number>();
  const problems: string[] = [];
  const problem = (kind: string, text: string): void => {
    if (problems.filter((p) => p.startsWith(kind)).length < MAX_PROBLEMS) problems.push(`${kind}: ${text}`);
  };
  let unexpected = 0;
  for (const out of outputs) {
    const input = out.id === undefined ? undefined : byId.get(out.id);
    if (input === undefined || !expect(input.n).includes(out.to)) {
      unexpected++;
      problem('unexpected', `${out.id ?? '(no id)'} -> ${out.to}`);
      continue;
    }
    const key = `${out.id}\u0000${out.to}`;
    got.set(key, (got.get(key) ?? 0) + 1);
    if (checks.payloadOk !== undefined && !checks.payloadOk(out.data, input.n)) problem('payload', `${out.id} -> ${out.to}: ${JSON.stringify(out.data)}`);
    const part = checks.msgIdPart?.(input);
    if (part !== undefined && !(out.msgId ?? '').includes(part)) problem('msg-id', `${out.id} -> ${out.to}: '${out.msgId}' lacks '${part}'`);
  }
  let lost = 0;
  let duplicated = 0;
  for (const input of inputs) {
    for (const to of expect(input.n)) {
      const n = got.get(`${input.id}\u0000${to}`) ?? 0;
      if (n === 0) lost++;
      else duplicated += n - 1;
    }
  }
  return { outputs: outputs.length, lost, duplicated, unexpected, problems };
}
