import { describe, expect, it } from 'vitest';
import { resolvePartition } from '../../../src/config/partition-option.js';
import { resolveConfig, type ConfigFileText } from '../../../src/config/resolve-config.js';
import { UsageError } from '../../../src/errors.js';

const CWD = '/work';
const file = (path: string, json: object): ConfigFileText => ({ path, text: JSON.stringify(json, null, 2) });

/** The partition as the import resolves it: flags, environment and files through resolveConfig, then resolvePartition. */
function partitionOf(flags: { partition?: string; partitions?: number | string }, env: Record<string, string> = {}, files: ConfigFileText[] = []) {
  const config = resolveConfig(flags, env, files, CWD);
  return resolvePartition(config.partitioning ?? {}, env);
}

function usageError(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    const message = (error as Error).message;
    expect(message, 'one line').not.toContain('\n');
    return message;
  }
  throw new Error('expected a usage error');
}

describe('--partition auto (Kubernetes Indexed Job)', () => {
  it('0-based JOB_COMPLETION_INDEX I becomes partition I+1 of N', () => {
    for (let index = 0; index < 4; index++) {
      expect(partitionOf({ partition: 'auto', partitions: 4 }, { JOB_COMPLETION_INDEX: String(index) })).toEqual({ index: index + 1, count: 4 });
    }
    expect(partitionOf({ partition: 'AUTO', partitions: 1 }, { JOB_COMPLETION_INDEX: '0' })).toEqual({ index: 1, count: 1 });
  });

  it('takes both settings from the environment (TaskRunnerBackfill__Partition, __Partitions, any case) and from a config file', () => {
    expect(partitionOf({}, { TaskRunnerBackfill__Partition: 'auto', TASKRUNNERBACKFILL__PARTITIONS: '3', JOB_COMPLETION_INDEX: '2' })).toEqual({ index: 3, count: 3 });
    expect(partitionOf({}, { JOB_COMPLETION_INDEX: '1' }, [file('appsettings.json', { TaskRunnerBackfill: { Partition: 'auto', Partitions: 5 } })])).toEqual({ index: 2, count: 5 });
  });

  it('flags win over the environment, which wins over the files', () => {
    const env = { TaskRunnerBackfill__Partitions: '4', JOB_COMPLETION_INDEX: '0' };
    const files = [file('appsettings.json', { TaskRunnerBackfill: { Partition: '2/2', Partitions: 2 } })];
    expect(partitionOf({}, {}, files)).toEqual({ index: 2, count: 2 });
    expect(partitionOf({ partition: 'auto' }, env, files)).toEqual({ index: 1, count: 4 });
    expect(partitionOf({ partition: 'auto', partitions: 6 }, env, files)).toEqual({ index: 1, count: 6 });
  });

  it('without a count it is a usage error naming what to pass', () => {
    expect(usageError(() => partitionOf({ partition: 'auto' }, { JOB_COMPLETION_INDEX: '0' }))).toBe(
      '--partition is auto but the number of partitions is not given: pass --partitions N (the Job\'s completions) or set TaskRunnerBackfill__Partitions',
    );
  });

  it('without JOB_COMPLETION_INDEX it is a usage error, also when the value came from a file', () => {
    expect(usageError(() => partitionOf({ partition: 'auto', partitions: 3 }))).toBe(
      '--partition is auto but JOB_COMPLETION_INDEX is not set (a Kubernetes Indexed Job sets it in each pod); elsewhere pass --partition K/N',
    );
    expect(usageError(() => partitionOf({}, { JOB_COMPLETION_INDEX: '' }, [file('conf/a.json', { TaskRunnerBackfill: { Partition: 'auto', Partitions: 3 } })]))).toContain(
      'TaskRunnerBackfill:Partition in conf/a.json is auto but JOB_COMPLETION_INDEX is not set',
    );
  });

  it('an index at or past the count, or not a plain whole number, is a usage error', () => {
    expect(usageError(() => partitionOf({ partition: 'auto', partitions: 3 }, { JOB_COMPLETION_INDEX: '3' }))).toBe(
      'JOB_COMPLETION_INDEX=3 is not below --partitions 3: the Job\'s completions and --partitions must be equal',
    );
    for (const bad of ['-1', '1.5', 'one', '1e1', ' ', '0x1']) {
      expect(usageError(() => partitionOf({ partition: 'auto', partitions: 3 }, { JOB_COMPLETION_INDEX: bad }))).toMatch(/JOB_COMPLETION_INDEX (must be a whole number|is not set)/);
    }
  });

  it('the count must be a whole number of at least 1', () => {
    for (const bad of [0, -2, 2.5, Number.NaN]) {
      expect(usageError(() => partitionOf({ partition: 'auto', partitions: bad }, { JOB_COMPLETION_INDEX: '0' }))).toMatch(/^--partitions must be a whole number of at least 1 \(got /);
    }
    expect(usageError(() => partitionOf({}, { TaskRunnerBackfill__Partition: 'auto', TaskRunnerBackfill__Partitions: 'four', JOB_COMPLETION_INDEX: '0' }))).toBe(
      'the environment variable TaskRunnerBackfill__Partitions must be a whole number of at least 1 (got "four")',
    );
  });
});

describe('--partition K/N and --partitions together', () => {
  it('neither: the whole source; K/N alone as before', () => {
    expect(partitionOf({})).toEqual({ index: 1, count: 1 });
    expect(partitionOf({ partition: '2/3' })).toEqual({ index: 2, count: 3 });
    expect(partitionOf({ partition: '2/3', partitions: 3 })).toEqual({ index: 2, count: 3 });
  });

  it('a count that disagrees with K/N, or a count without --partition, is a usage error', () => {
    expect(usageError(() => partitionOf({ partition: '2/3', partitions: 4 }))).toBe('--partition is 2/3 but --partitions is 4: they must agree (or leave out --partitions)');
    expect(usageError(() => partitionOf({ partitions: 4 }))).toBe('--partitions is set but not --partition: pass --partition auto (in a Kubernetes Indexed Job) or --partition K/N');
  });

  it('a bad K/N names where it came from and mentions auto', () => {
    expect(usageError(() => partitionOf({ partition: '4/3' }))).toBe('--partition must be K/N with 1 <= K <= N, or auto (got "4/3")');
    expect(usageError(() => partitionOf({}, { TaskRunnerBackfill__Partition: 'half' }))).toBe(
      'the environment variable TaskRunnerBackfill__Partition must be K/N with 1 <= K <= N, or auto (got "half")',
    );
  });
});
