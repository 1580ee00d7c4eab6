import { describe, expect, it } from 'vitest';
import { checkArgs, closestName, editDistance, rewordYargsMessage, unknownArgumentsMessage, type KnownOptions } from '../../../src/cli/usage-hints.js';
import { UsageError } from '../../../src/errors.js';

const OPTIONS: KnownOptions = {
  key: { source: true, 'batch-size': true, 'lease-ttl-seconds': true, ledger: true, config: true, help: true },
  array: ['config'],
  boolean: ['ledger', 'help'],
  number: ['batch-size', 'lease-ttl-seconds'],
  alias: { help: ['h'] },
};
const COMMANDS = ['import', 'plan', 'verify', 'status'];

describe('did you mean', () => {
  it('measures edits, an adjacent swap as one', () => {
    expect(editDistance('source', 'source')).toBe(0);
    expect(editDistance('sorce', 'source')).toBe(1);
    expect(editDistance('improt', 'import')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
  });

  it('suggests a close name or the one a prefix names, and nothing for a stranger', () => {
    expect(closestName('bach-size', ['batch-size', 'source'])).toBe('batch-size');
    expect(closestName('lease-ttl', ['lease-ttl-seconds', 'ledger'])).toBe('lease-ttl-seconds');
    expect(closestName('x', ['db', 'uri'])).toBeUndefined();
    expect(closestName('frobnicate', COMMANDS)).toBeUndefined();
  });

  it('rewrites yargs "Unknown argument" for flags and commands', () => {
    expect(unknownArgumentsMessage(['import', '--sorce', 'x'], OPTIONS, 'import', COMMANDS)).toBe('unknown option "--sorce"; did you mean --source? (see "taskrunner-backfill import --help")');
    expect(unknownArgumentsMessage(['import', '--no-ledgr'], OPTIONS, 'import', COMMANDS)).toMatch(/did you mean --no-ledger\?/);
    expect(unknownArgumentsMessage(['import', '-x'], OPTIONS, 'import', COMMANDS)).toMatch(/^unknown option "-x" \(see/);
    expect(unknownArgumentsMessage(['improt', '--source', 'x'], undefined, undefined, COMMANDS)).toMatch(/^unknown command "improt"; did you mean "import"\?/);
    expect(unknownArgumentsMessage(['import', 'extra'], OPTIONS, 'import', COMMANDS)).toMatch(/^unexpected argument "extra"/);
  });

  it('puts yargs messages on one line in the tool\'s words', () => {
    expect(rewordYargsMessage('Not enough arguments following: source', 'import')).toBe('--source needs a value (see "taskrunner-backfill import --help")');
    expect(rewordYargsMessage('Invalid values:\n  Argument: enum-style, Given: "x", Choices: "camel", "pascal"', 'import')).toBe('--enum-style must be one of camel, pascal (got "x")');
  });
});

describe('checkArgs', () => {
  it('refuses a single-valued flag given twice and an empty value; leaves numbers to their range check', () => {
    expect(() => checkArgs({ source: ['a', 'b'] }, OPTIONS)).toThrow(/--source was given 2 times/);
    expect(() => checkArgs({ source: '' }, OPTIONS)).toThrow(UsageError);
    expect(() => checkArgs({ config: ['a', 'b'], 'batch-size': [1, 2] }, OPTIONS)).not.toThrow();
    expect(() => checkArgs({ config: ['a', ''] }, OPTIONS)).toThrow(/--config needs a value/);
  });
});
