/**
 * The unique keys of the layout page as text: `(runId, sequence)`, `(runId, name)`,
 * `(runId, approvalId)`. Maps, sets and ledger entries use `recordKey`, which is unambiguous for
 * any runId and name (a runId may contain `#`, `/`, NUL, anything); reports show `displayKey`.
 */
export function recordKey(runId: string, part: string): string {
  return JSON.stringify([runId, part]);
}

/** Characters that make a plain `runId#part` label ambiguous or unreadable. */
const NEEDS_QUOTES = /[#"\\\u0000-\u001f\u007f-\uffff]|^$/;

/**
 * How a key is shown to a person: `run-1#report` when both parts are plain ASCII without `#`,
 * else each part as a quoted, escaped string (`"a#b"#"c"`, `"caf\u00e9-1"#"3"`), so two keys that
 * look alike never print alike.
 */
export function displayKey(runId: string, part: string): string {
  if (!NEEDS_QUOTES.test(runId) && !NEEDS_QUOTES.test(part)) return `${runId}#${part}`;
  return `${quoteName(runId)}#${quoteName(part)}`;
}

/**
 * A name from the input as a quoted string with everything outside printable ASCII escaped
 * (`"caf\u00e9-1"` vs `"cafe\u0301-1"`): for messages, where look-alike or invisible characters
 * must stay visible.
 */
export function quoteName(name: string): string {
  return JSON.stringify(name).replace(/[\u007f-\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A single name (a runId) as reports show it: as is when plain, else quoted and escaped. */
export function displayName(name: string): string {
  return NEEDS_QUOTES_ALONE.test(name) ? quoteName(name) : name;
}

const NEEDS_QUOTES_ALONE = /["\\\u0000-\u001f\u007f-\uffff]|^$/;
