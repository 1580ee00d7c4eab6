import { parse as parseJsonc, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { UsageError } from '../errors.js';
import { printable } from '../report/printable.js';

/** A configuration file's path (as given, for messages) and text, read by the caller (the CLI edge). */
export interface ConfigFileText {
  path: string;
  text: string;
}

/** One setting of a configuration file: its value and where it came from. */
export interface ConfigEntry {
  /** The key path as written, `:`-joined (`TaskRunner:Storage:Mongo:ConnectionString`). */
  key: string;
  value: string | number | boolean;
  /** The file that set it. */
  file: string;
}

/**
 * A configuration flattened the way .NET's JSON provider flattens appsettings: every leaf value
 * under its `:`-joined key path (array items under their index), keys compared
 * case-insensitively (the map is keyed by the lower-cased path). Layering files is then
 * key-by-key: a later file replaces only the keys it sets, as .NET does.
 */
export type FlatConfig = Map<string, ConfigEntry>;

/** What jsonc-parser's error codes mean, said for a person fixing the file. */
const PROBLEMS: Readonly<Record<string, string>> = {
  InvalidSymbol: 'unexpected character',
  InvalidNumberFormat: 'not a valid number',
  PropertyNameExpected: 'a property name in double quotes was expected',
  ValueExpected: 'a value was expected',
  ColonExpected: 'a ":" was expected after the property name',
  CommaExpected: 'a "," was expected between two entries',
  CloseBraceExpected: 'a "}" was expected: an object is not closed',
  CloseBracketExpected: 'a "]" was expected: an array is not closed',
  EndOfFileExpected: 'the file should end after its top-level { ... }',
  InvalidCommentToken: 'a comment is not closed',
  UnexpectedEndOfComment: 'a comment is not closed',
  UnexpectedEndOfString: 'a string is not closed (missing ")',
  UnexpectedEndOfNumber: 'a number is cut short',
  InvalidUnicode: 'an invalid \\u escape in a string',
  InvalidEscapeCharacter: 'an invalid \\ escape in a string',
  InvalidCharacter: 'a control character inside a string (write it as an escape, e.g. \\n)',
};

const PARSE_OPTIONS = { allowTrailingComma: true, disallowComments: false } as const;

/**
 * Parses one appsettings file (JSON with `//` and block comments and trailing commas, as .NET
 * accepts; a UTF-8 byte order mark is ignored) and flattens it. A file that is not one JSON object
 * is a usage error that says `file:line:column`, what is wrong there, and, for the spec's
 * `"TaskRunner": { ... }` pasted on its own, that it is a fragment to wrap in `{ }`.
 */
export function parseConfigFile(file: ConfigFileText): FlatConfig {
  const text = file.text.replace(/^\uFEFF/, '');
  if (text.trim().length === 0) {
    throw new UsageError(`config file ${file.path} is empty: an appsettings file is one JSON object, { "TaskRunner": { ... } }`);
  }
  const errors: ParseError[] = [];
  const json: unknown = parseJsonc(text, errors, PARSE_OPTIONS);
  const first = errors[0];
  if (first) throw new UsageError(describeParseError(file.path, text, first));
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new UsageError(`config file ${file.path}:1:1: the top level must be a JSON object { ... }, not ${Array.isArray(json) ? 'an array' : json === null ? 'null' : `a ${typeof json}`}`);
  }
  const flat: FlatConfig = new Map();
  flatten(json, [], file.path, flat);
  return flat;
}

function describeParseError(filePath: string, text: string, error: ParseError): string {
  const { line, column } = positionOf(text, error.offset);
  const problem = PROBLEMS[printParseErrorCode(error.error)] ?? printParseErrorCode(error.error);
  const found = text.slice(error.offset, error.offset + Math.max(1, Math.min(error.length, 20)));
  const shown = found.length > 0 && error.offset < text.length ? ` (found ${JSON.stringify(printable(found))})` : ' (at the end of the file)';
  return `config file ${filePath}:${line}:${column}: ${problem}${shown}${fragmentHint(text)}`;
}

/** 1-based line and column (in characters) of an offset; CRLF, LF and CR all end a line. */
function positionOf(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const lines = before.split(/\r\n|\r|\n/);
  return { line: lines.length, column: (lines.at(-1)?.length ?? 0) + 1 };
}

/**
 * The spec's configuration reference shows `"TaskRunner": { ... }` without the enclosing braces;
 * pasted as it is, the file is a fragment. When wrapping it in braces makes a valid object, say so.
 */
function fragmentHint(text: string): string {
  if (!text.trimStart().startsWith('"')) return '';
  const errors: ParseError[] = [];
  const wrapped: unknown = parseJsonc(`{${text}\n}`, errors, PARSE_OPTIONS);
  if (errors.length > 0 || typeof wrapped !== 'object' || wrapped === null || Array.isArray(wrapped)) return '';
  return '. This looks like a fragment (a "Name": { ... } property without the enclosing braces): wrap the whole file in { }';
}

function flatten(node: unknown, path: readonly string[], file: string, into: FlatConfig): void {
  if (Array.isArray(node)) {
    node.forEach((item, index) => flatten(item, [...path, String(index)], file, into));
    return;
  }
  if (typeof node === 'object' && node !== null) {
    for (const [name, value] of Object.entries(node)) flatten(value, [...path, name], file, into);
    return;
  }
  if (path.length === 0) return;
  const key = path.join(':');
  // A null (or an empty string) sets nothing: it never hides what an earlier file set.
  if (node === null || node === '' || node === undefined) return;
  into.set(key.toLowerCase(), { key, value: node as string | number | boolean, file });
}
