// The subjects of a wiring node: `WiringNode.subject` lists several comma-separated, or is one
// parenthesised description (a sink whose subject is `(chosen per value)`) that is not a subject
// and stays whole.

/** The subjects in a wiring node's `subject`, trimmed; a `(...)` description as it is. */
export function splitSubjects(subject: string): string[] {
  if (subject.startsWith('(')) return [subject];
  return subject
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
