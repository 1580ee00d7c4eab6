import type { Collection, Document, Filter } from 'mongodb';
import pLimit from 'p-limit';
import type { ReadStrategy, WriteLimits } from './server-profile.js';

/**
 * How this process sends `update` commands to this server: at most `statementsPerCommand`
 * statements each and `run` at most the profile's number of them at once, over every writer of
 * the process (replacements, ledger entries). The server profile's catalogue says why that bound
 * exists (`updateStatementsPerCommand`).
 */
export interface UpdateCommands {
  statementsPerCommand: number;
  run<T>(command: () => Promise<T>): Promise<T>;
}

export function updateCommands(limits: WriteLimits): UpdateCommands {
  const gate = pLimit(limits.updateCommandsInFlight);
  return { statementsPerCommand: limits.updateStatementsPerCommand, run: (command) => gate(command) };
}

/** No bound beyond MongoDB's own: for callers that do not know the server (tests of pure logic). */
export const UNBOUNDED_UPDATES: UpdateCommands = Object.freeze({ statementsPerCommand: 1000, run: <T>(command: () => Promise<T>) => command() });

export function chunks<T>(items: readonly T[], size: number): T[][] {
  const result: T[][] = [];
  for (let i = 0; i < items.length; i += size) result.push(items.slice(i, i + size));
  return result;
}

/**
 * Streams the documents whose `field` is one of `values`, the way the server answers best (see
 * `ReadStrategy.lookup`): one `$in`, or, where only equality filters reach the backend, one
 * equality query per value while there are few of them.
 */
export async function* findWhereIn(
  collection: Collection<Document>,
  field: string,
  values: readonly unknown[],
  reads: Pick<ReadStrategy, 'lookup' | 'runEachLimit'>,
  extra: Document = {},
): AsyncGenerator<Document> {
  const distinct = [...new Set(values)];
  if (distinct.length === 0) return;
  // useBigInt64 per read, so Int64 values compare by BSON type whatever the caller's client options.
  const options = { useBigInt64: true } as const;
  if (reads.lookup === 'run-each' && distinct.length <= reads.runEachLimit) {
    for (const value of distinct) yield* collection.find({ ...extra, [field]: value } as Filter<Document>, options);
    return;
  }
  yield* collection.find({ ...extra, [field]: { $in: distinct } } as Filter<Document>, options);
}
