import { describe, expect, it } from 'vitest';
import { parseConfigFile } from '../../../src/config/parse-config-file.js';
import { UsageError } from '../../../src/errors.js';

function problem(text: string, path = 'appsettings.json'): string {
  try {
    parseConfigFile({ path, text });
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error('expected a usage error');
}

/** The spec's configuration reference, pasted as it is (a property without the enclosing braces). */
const SPEC_FRAGMENT = `"TaskRunner": {
"Storage": {
"Mode": "mongo",
"Mongo": {
"ConnectionString": "mongodb://127.0.0.1:27017/taskrunner",
"Database": "taskrunner"
}
}
}
`;

describe('parseConfigFile', () => {
  it('flattens to case-insensitive key paths, keeping where each came from; comments, trailing commas and a BOM are fine', () => {
    const flat = parseConfigFile({
      path: 'conf/appsettings.json',
      text: '\uFEFF{\n  // comment\n  "TaskRunner": { "Storage": { "Mongo": { "ConnectionString": "mongodb://h/db", "Database": null, }, }, },\n  "List": [1, "two"],\n}\n',
    });
    expect(flat.get('taskrunner:storage:mongo:connectionstring')).toEqual({ key: 'TaskRunner:Storage:Mongo:ConnectionString', value: 'mongodb://h/db', file: 'conf/appsettings.json' });
    expect(flat.has('taskrunner:storage:mongo:database')).toBe(false); // null sets nothing
    expect(flat.get('list:1')?.value).toBe('two');
  });

  it('says file:line:column and what is wrong', () => {
    expect(problem('{\n  "TaskRunner": {\n    "Storage" {\n  }\n}\n')).toBe(
      'config file appsettings.json:3:15: a ":" was expected after the property name (found "{")',
    );
    expect(problem('{\n  "a": 1\n  "b": 2\n}')).toBe('config file appsettings.json:3:3: a "," was expected between two entries (found "\\"b\\"")');
    expect(problem('{ "a": { "b": 1 }')).toMatch(/^config file appsettings\.json:1:18: a "\}" was expected: an object is not closed \(at the end of the file\)$/);
    expect(problem('{\r\n  "a": tru\r\n}')).toMatch(/^config file appsettings\.json:2:8: /);
  });

  it('recognises the spec snippet pasted without its braces and says to wrap it in { }', () => {
    const message = problem(SPEC_FRAGMENT, '/etc/taskrunner/appsettings.json');
    expect(message).toMatch(/^config file \/etc\/taskrunner\/appsettings\.json:1:13: /);
    expect(message).toContain('This looks like a fragment');
    expect(message).toContain('wrap the whole file in { }');
    // Wrapped, it is fine.
    expect(parseConfigFile({ path: 'a.json', text: `{${SPEC_FRAGMENT}}` }).get('taskrunner:storage:mongo:database')?.value).toBe('taskrunner');
  });

  it('gives no fragment hint to a file that is broken in another way', () => {
    expect(problem('{ "a": 1,, }')).not.toContain('fragment');
    expect(problem('"a": [1, 2')).not.toContain('fragment');
  });

  it('rejects an empty file and a top level that is not an object', () => {
    expect(problem('  \n')).toMatch(/appsettings\.json is empty/);
    expect(problem('[1]')).toBe('config file appsettings.json:1:1: the top level must be a JSON object { ... }, not an array');
    expect(problem('"TaskRunner"')).toBe('config file appsettings.json:1:1: the top level must be a JSON object { ... }, not a string');
  });

  it('shows a control character found in the file escaped', () => {
    expect(problem('{ "a": "x\u0007y" }')).toContain('\\x07');
    expect(problem('{ "a": "x\u0007y" }')).not.toContain('\u0007');
  });
});
