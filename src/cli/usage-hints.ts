import { UsageError } from '../errors.js';

/**
 * Turning operator mistakes into one-line usage errors that say how to fix them: "did you mean"
 * for a mistyped flag or command, a flag given twice or without a value, yargs' own messages on
 * one line.
 */

/** What yargs knows of a command's options (`yargs.getOptions()`), the parts used here. */
export interface KnownOptions {
  key: Record<string, unknown>;
  array: string[];
  boolean: string[];
  number: string[];
  alias: Record<string, string[]>;
}

/** Edit distance (insertions, deletions, substitutions; an adjacent swap counts as one). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i += 1) {
    for (let j = 1; j < cols; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const row = d[i] as number[];
      const above = d[i - 1] as number[];
      let best = Math.min((above[j] as number) + 1, (row[j - 1] as number) + 1, (above[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, ((d[i - 2] as number[])[j - 2] as number) + 1);
      row[j] = best;
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

/**
 * The known name closest to `word`, if it is close enough to be a typo (a third of its length, at
 * least 1 edit), or the only known name `word` is the start of (`--lease-ttl` -> `--lease-ttl-seconds`).
 */
export function closestName(word: string, known: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = editDistance(lower, name.toLowerCase());
    if (!best || distance < best.distance) best = { name, distance };
  }
  if (best && best.distance <= Math.max(1, Math.floor(lower.length / 3))) return best.name;
  const extending = known.filter((name) => lower.length >= 3 && name.toLowerCase().startsWith(lower));
  return extending.length === 1 ? extending[0] : undefined;
}

/** Long option names a command accepts, as typed (`batch-size`, `no-ledger`, `help`). */
export function optionNames(options: KnownOptions): string[] {
  const names = new Set<string>();
  for (const key of Object.keys(options.key)) {
    names.add(key);
    if (options.boolean.includes(key)) names.add(`no-${key}`);
    for (const alias of options.alias[key] ?? []) if (alias.length > 1) names.add(alias);
  }
  return [...names];
}

/**
 * yargs' "Unknown argument" for this argv, rewritten: which flag or word is unknown and the closest
 * known one. `command` is undefined when no command was recognised.
 */
export function unknownArgumentsMessage(argv: readonly string[], options: KnownOptions | undefined, command: string | undefined, commands: readonly string[]): string {
  const end = argv.indexOf('--');
  const tokens = end >= 0 ? argv.slice(0, end) : argv;
  const positionals = tokens.filter((token) => !token.startsWith('-'));
  if (command === undefined) {
    const word = positionals[0];
    const suggestion = word === undefined ? undefined : closestName(word, commands);
    const what = word === undefined ? 'no command given' : `unknown command ${JSON.stringify(word)}`;
    return `${what}${suggestion ? `; did you mean "${suggestion}"?` : ''} (the commands are ${commands.join(', ')}; see "taskrunner-backfill --help")`;
  }
  const known = options ? optionNames(options) : ['help', 'version'];
  const knownLower = new Set([...known, ...known.map(camelCase)].map((name) => name.toLowerCase()));
  const shortNames = new Set(Object.values(options?.alias ?? {}).flat().filter((alias) => alias.length === 1));
  const problems: string[] = [];
  for (const token of tokens) {
    if (!token.startsWith('-') || token === '-') continue;
    const name = token.replace(/^-+/, '').replace(/=.*$/s, '');
    if (token.startsWith('--') ? knownLower.has(name.toLowerCase()) : [...name].every((letter) => shortNames.has(letter))) continue;
    const suggestion = closestName(name, known);
    problems.push(`unknown option ${JSON.stringify(token.replace(/=.*$/s, ''))}${suggestion ? `; did you mean --${suggestion}?` : ''}`);
  }
  if (problems.length > 0) return `${problems.join('; ')} (see "taskrunner-backfill ${command} --help")`;
  const extra = positionals.find((token) => token !== command) ?? '';
  return `unexpected argument ${JSON.stringify(extra)}: "${command}" takes options only, as --name value (see "taskrunner-backfill ${command} --help")`;
}

/** Other yargs messages on one line, in the tool's words where they are known. */
export function rewordYargsMessage(message: string, command: string | undefined): string {
  const help = `see "taskrunner-backfill ${command ? `${command} ` : ''}--help"`;
  const missing = /^Not enough arguments following: (.+)$/.exec(message);
  if (missing) return `--${missing[1]} needs a value (${help})`;
  const choice = /Argument: ([^,]+), Given: (.*), Choices: (.*)$/s.exec(message.replace(/\s*\n\s*/g, ' '));
  if (choice) return `--${choice[1]} must be one of ${choice[3]?.replace(/"/g, '')} (got ${choice[2]})`;
  return `${message.replace(/\s*\n\s*/g, ' ').trim()} (${help})`;
}

/**
 * A single-valued flag given more than once (yargs makes an array of it; numbers are left to
 * their range check in config/limits.ts) or a value that is an empty string (`--source ""`, `--source=`) is a usage error: a path or name must be given once.
 */
export function checkArgs(args: Readonly<Record<string, unknown>>, options: KnownOptions): void {
  for (const key of Object.keys(options.key)) {
    const value = args[key];
    // Numbers given twice are refused by their range check, whose message names the range.
    if (Array.isArray(value) && !options.array.includes(key) && !options.number.includes(key)) {
      // The values are not repeated: one of them may be a connection string with a password.
      throw new UsageError(`--${key} was given ${value.length} times; give it once`);
    }
    const values = Array.isArray(value) ? value : [value];
    if (values.some((item) => item === '')) throw new UsageError(`--${key} needs a value (got an empty string)`);
  }
}

function camelCase(name: string): string {
  return name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}
