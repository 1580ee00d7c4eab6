import { describe, expect, it } from 'vitest';
import { dotnetEnvironment } from '../../../src/config/config-files.js';
import { resolveConfig, type ConfigFileText } from '../../../src/config/resolve-config.js';
import { UsageError } from '../../../src/errors.js';

const CWD = '/work';
const file = (path: string, json: object): ConfigFileText => ({ path, text: JSON.stringify(json, null, 2) });
const mongo = (settings: Record<string, string>) => ({ Storage: { Mode: 'mongo', Mongo: settings } });

function usageError(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error('expected a usage error');
}

describe("the worker's configuration", () => {
  it('a worker appsettings (Worker:Storage:Mongo) gives the connection string, database and collection names', () => {
    const config = resolveConfig(
      {},
      {},
      [file('worker/appsettings.json', { Worker: mongo({ ConnectionString: 'mongodb://w:pw@db1:27017/taskrunner', Database: 'tr', RunsCollection: 'runs_w' }) })],
      CWD,
    );
    expect(config).toMatchObject({ uri: 'mongodb://w:pw@db1:27017/taskrunner', database: 'tr', collections: { runs: 'runs_w', logs: 'pack_run_logs' } });
    expect(config.origin).toMatchObject({ files: ['worker/appsettings.json'], uri: 'Worker:Storage:Mongo:ConnectionString in worker/appsettings.json', database: 'Worker:Storage:Mongo:Database in worker/appsettings.json' });
  });

  it('also accepts the whole TaskRunner block under Worker, and Worker under TaskRunner, in any case', () => {
    for (const json of [
      { Worker: { TaskRunner: mongo({ ConnectionString: 'mongodb://db1/x' }) } },
      { TaskRunner: { Worker: mongo({ ConnectionString: 'mongodb://db1/x' }) } },
      { worker: { storage: { mongo: { connectionstring: 'mongodb://db1/x' } } } },
    ]) {
      expect(resolveConfig({}, {}, [file('a.json', json)], CWD)).toMatchObject({ uri: 'mongodb://db1/x', database: 'x' });
    }
  });

  it('takes the worker form from the environment (Worker__Storage__Mongo__ConnectionString)', () => {
    const config = resolveConfig({}, { worker__storage__mongo__connectionstring: 'mongodb://envhost/envdb' }, [], CWD);
    expect(config).toMatchObject({ uri: 'mongodb://envhost/envdb', database: 'envdb' });
    expect(config.origin?.uri).toBe('the environment variable worker__storage__mongo__connectionstring');
  });

  it('web and worker sections that agree are fine; keys may come from either', () => {
    const config = resolveConfig(
      {},
      {},
      [file('a.json', { TaskRunner: mongo({ ConnectionString: 'mongodb://db1/x', Database: 'same' }), Worker: mongo({ Database: 'same', LogsCollection: 'logs_w' }) })],
      CWD,
    );
    expect(config).toMatchObject({ uri: 'mongodb://db1/x', database: 'same', collections: { logs: 'logs_w' } });
  });

  it('web and worker sections that disagree are a usage error naming both, the password hidden', () => {
    const message = usageError(() =>
      resolveConfig(
        {},
        {},
        [
          file('web/appsettings.json', { TaskRunner: mongo({ ConnectionString: 'mongodb://u:s3cret@db1/x' }) }),
          file('worker/appsettings.json', { Worker: mongo({ ConnectionString: 'mongodb://u:s3cret@db2/x' }) }),
        ],
        CWD,
      ),
    );
    expect(message).toContain('TaskRunner:Storage:Mongo:ConnectionString in web/appsettings.json is "mongodb://u:***@db1/x"');
    expect(message).toContain('Worker:Storage:Mongo:ConnectionString in worker/appsettings.json is "mongodb://u:***@db2/x"');
    expect(message).toContain('--uri');
    expect(message).not.toContain('s3cret');
  });

  it('a flag or the environment above the files settles a disagreement', () => {
    const files = [file('a.json', { TaskRunner: mongo({ Database: 'one' }), Worker: mongo({ Database: 'two' }) })];
    expect(usageError(() => resolveConfig({ uri: 'mongodb://h/' }, {}, files, CWD))).toMatch(/Database differ.*--db/);
    expect(resolveConfig({ uri: 'mongodb://h/', db: 'chosen' }, {}, files, CWD).database).toBe('chosen');
    expect(resolveConfig({ uri: 'mongodb://h/' }, { TaskRunner__Storage__Mongo__Database: 'fromenv' }, files, CWD).database).toBe('fromenv');
  });

  it('a later file replaces only the keys it sets (as .NET layers appsettings.json, then appsettings.{Environment}.json)', () => {
    const config = resolveConfig(
      {},
      {},
      [
        file('appsettings.json', { Worker: mongo({ ConnectionString: 'mongodb://db1/base', Database: 'base', RunsCollection: 'r' }) }),
        file('appsettings.Production.json', { Worker: mongo({ Database: 'prod' }) }),
      ],
      CWD,
    );
    expect(config).toMatchObject({ uri: 'mongodb://db1/base', database: 'prod', collections: { runs: 'r' } });
    expect(config.origin?.database).toBe('Worker:Storage:Mongo:Database in appsettings.Production.json');
  });

  it('TaskRunnerBackfill:Source is relative to the file that names it', () => {
    const config = resolveConfig({}, {}, [file('conf/appsettings.json', { TaskRunnerBackfill: { Source: '../data' } })], CWD);
    expect(config.source).toBe('/work/data');
  });

  it('a Mongo setting that is not a string is a usage error naming the key and the file', () => {
    expect(usageError(() => resolveConfig({}, {}, [file('a.json', { Worker: mongo({ Database: 5 as unknown as string }) })], CWD))).toBe(
      'Worker:Storage:Mongo:Database in a.json: must be a string (got 5)',
    );
  });
});

describe('the .NET environment name', () => {
  it('--environment, else DOTNET_ENVIRONMENT, else ASPNETCORE_ENVIRONMENT (WebApplicationBuilder since .NET 7, and the generic host)', () => {
    const env = { DOTNET_ENVIRONMENT: 'Production', ASPNETCORE_ENVIRONMENT: 'Staging' };
    expect(dotnetEnvironment('Test', env)).toEqual({ name: 'Test', from: '--environment' });
    expect(dotnetEnvironment(undefined, env)).toEqual({ name: 'Production', from: 'DOTNET_ENVIRONMENT' });
    expect(dotnetEnvironment(undefined, { ASPNETCORE_ENVIRONMENT: 'Staging' })).toEqual({ name: 'Staging', from: 'ASPNETCORE_ENVIRONMENT' });
    expect(dotnetEnvironment(undefined, { DOTNET_ENVIRONMENT: ' ', ASPNETCORE_ENVIRONMENT: 'Staging' })).toEqual({ name: 'Staging', from: 'ASPNETCORE_ENVIRONMENT' });
  });

  it('none by default (the tool does not guess Production), and no path in a name', () => {
    expect(dotnetEnvironment(undefined, {})).toBeUndefined();
    expect(() => dotnetEnvironment('../etc', {})).toThrow(UsageError);
  });
});

describe('the importer\'s own settings from the environment (TaskRunnerBackfill__*)', () => {
  it('reads every TaskRunnerBackfill key in the .NET form, any case; flags win, files lose', () => {
    const env = { TaskRunnerBackfill__BatchSize: '250', taskrunnerbackfill__enumstyle: 'pascal', TaskRunnerBackfill__Source: 'data', TaskRunnerBackfill__LogsRetentionDays: '30' };
    const files = [file('conf/appsettings.json', { TaskRunnerBackfill: { BatchSize: 10, Concurrency: 2, Source: 'tree' } })];
    const config = resolveConfig({ concurrency: 8 }, env, files, CWD);
    expect(config).toMatchObject({ batchSize: 250, enumStyle: 'pascal', concurrency: 8, source: '/work/data', logsRetentionDays: 30 });
    expect(resolveConfig({ batchSize: 5 }, env, files, CWD).batchSize).toBe(5);
    expect(resolveConfig({}, {}, files, CWD)).toMatchObject({ batchSize: 10, source: '/work/conf/tree' });
  });

  it('a bad value from the environment is a usage error', () => {
    expect(usageError(() => resolveConfig({}, { TaskRunnerBackfill__BatchSize: 'many' }, [], CWD))).toBe('--batch-size (TaskRunnerBackfill:BatchSize) must be one whole number from 1 to 100,000 (got "many")');
    expect(usageError(() => resolveConfig({}, { TaskRunnerBackfill__LogsRetentionDays: 'forever' }, [], CWD))).toContain('--logs-retention-days (TaskRunnerBackfill:LogsRetentionDays) must be one whole number');
  });
});
