/**
 * The scale-out manifests in docs/ are run, not only read: the Indexed Job's container (args, env,
 * mounts) and each Compose service are executed here as the orchestrator would, with their paths
 * mapped to temporary folders, the Secret / the mounted appsettings pointing at the test server,
 * and the built CLI standing in for the image's executable. Together the pods must leave exactly
 * what one import leaves, and their exit codes must be ones the manifests treat as intended.
 */
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { dumpDatabase, dumpText } from '../helpers/dump.js';
import { cleanEnv, runProcess, type ProcessResult } from '../helpers/run-process.js';
import { hashTree } from '../helpers/source-tree.js';
import { testDatabases, type TestDb } from '../helpers/test-db.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(REPO, 'dist/src/cli/main.js');
const SAMPLE = path.join(REPO, 'fixtures/sample');
const databases = testDatabases({ useBigInt64: true });

/** The manifests are untyped YAML. */
type Yaml = any;

let work: string;
let reference: TestDb;
let referenceDump: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'trb-docs-'));
  reference = await databases.open('docs_ref');
  const single = await runProcess(process.execPath, [CLI, 'import', '--source', SAMPLE, '--uri', reference.uri, '--db', reference.dbName, '--quiet'], { cwd: REPO, env: cleanEnv() });
  expect(single.code, single.stderr).toBe(3);
  referenceDump = dumpText(await dumpDatabase(reference.db));
}, 60_000);

afterAll(async () => {
  await databases.dropAll();
  if (work) await rm(work, { recursive: true, force: true });
}, 60_000);

/** Rewrites a container path that lies under a mount to the host folder standing in for it. */
function onHost(arg: string, mounts: ReadonlyMap<string, string>): string {
  for (const [inside, outside] of mounts) {
    if (arg === inside) return outside;
    if (arg.startsWith(`${inside}/`)) return path.join(outside, arg.slice(inside.length + 1));
  }
  return arg;
}

/** Runs one container's command with the built CLI in place of the image's executable. */
function runContainer(executable: string, args: readonly string[], env: NodeJS.ProcessEnv, mounts: ReadonlyMap<string, string>): Promise<ProcessResult> {
  expect(executable).toBe('/usr/local/bin/taskrunner-backfill');
  return runProcess(process.execPath, [CLI, ...args.map((arg) => onHost(arg, mounts))], { cwd: work, env: cleanEnv(env), timeoutMs: 90_000 });
}

/** A copy of fixtures/sample standing for the provider's tree, with its hash to show it is never written. */
async function providerTree(name: string): Promise<{ root: string; hash: Array<[string, string]> }> {
  const root = path.join(work, name);
  await cp(SAMPLE, root, { recursive: true });
  return { root, hash: await hashTree(root) };
}

async function rejectLines(folder: string): Promise<number> {
  let lines = 0;
  for (const file of await readdir(folder)) {
    if (file.endsWith('.ndjson')) lines += (await readFile(path.join(folder, file), 'utf8')).split('\n').filter((line) => line !== '').length;
  }
  return lines;
}

describe('docs/kubernetes-indexed-job.yaml', () => {
  let job: Yaml;

  beforeAll(async () => {
    const documents = parseAllDocuments(await readFile(path.join(REPO, 'docs/kubernetes-indexed-job.yaml'), 'utf8')).map((document) => document.toJS());
    job = documents.find((document) => document.kind === 'Job');
    expect(documents.map((document) => `${document.apiVersion} ${document.kind}`)).toEqual(['batch/v1 Job', 'v1 PersistentVolumeClaim']);
  });

  test('an Indexed Job whose completions, parallelism and --partitions agree; the tree mounted read-only; restartPolicy Never', () => {
    const spec = job.spec;
    const container = spec.template.spec.containers[0];
    expect(spec.completionMode).toBe('Indexed');
    const args: string[] = container.args;
    expect(args[args.indexOf('--partition') + 1]).toBe('auto');
    expect(Number(args[args.indexOf('--partitions') + 1])).toBe(spec.completions);
    expect(spec.parallelism).toBeLessThanOrEqual(spec.completions);
    expect(spec.template.spec.restartPolicy).toBe('Never');
    const tree = spec.template.spec.volumes.find((volume: Yaml) => volume.name === 'provider-tree');
    expect(tree.persistentVolumeClaim.readOnly).toBe(true);
    expect(container.volumeMounts.find((mount: Yaml) => mount.name === 'provider-tree')).toMatchObject({ mountPath: args[args.indexOf('--source') + 1], readOnly: true });
    expect(spec.template.spec.subdomain, 'pods keep their own host names (the lease)').toBeUndefined();
    expect(container.env.find((variable: Yaml) => variable.name === 'TaskRunner__Storage__Mongo__ConnectionString').valueFrom.secretKeyRef).toBeDefined();
  });

  test('podFailurePolicy: 2 fails the Job, 3 fails its index without retry, disruptions are not counted', () => {
    const rules: Yaml[] = job.spec.podFailurePolicy.rules;
    const actionFor = (code: number): string => rules.find((rule) => rule.onExitCodes?.operator === 'In' && rule.onExitCodes.values.includes(code))?.action ?? 'Count';
    expect([0, 1, 2, 3, 4].map((code) => [code, actionFor(code)])).toEqual([[0, 'Count'], [1, 'Count'], [2, 'FailJob'], [3, 'FailIndex'], [4, 'Count']]);
    expect(rules.find((rule) => rule.onPodConditions)).toEqual({ action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget' }] });
    for (const rule of rules.filter((r) => r.onExitCodes)) expect(rule.onExitCodes.containerName).toBe(job.spec.template.spec.containers[0].name);
    expect(job.spec.backoffLimitPerIndex).toBeGreaterThanOrEqual(4);
  });

  test('its pods, run as the Job runs them over fixtures/sample: the same database as one import, a rejects file per index, the tree untouched', async () => {
    const spec = job.spec;
    const container = spec.template.spec.containers[0];
    const tree = await providerTree('k8s-tree');
    const reports = path.join(work, 'k8s-reports');
    await mkdir(reports);
    const mounts = new Map<string, string>(
      container.volumeMounts.map((mount: Yaml) => [mount.mountPath, mount.name === 'provider-tree' ? tree.root : mount.name === 'reports' ? reports : 'unmapped']),
    );
    const t = await databases.open('docs_k8s');
    const results = await Promise.all(
      Array.from({ length: spec.completions as number }, (_, index) => {
        // The container's environment as the kubelet makes it: downward API and the Secret resolved.
        const env: NodeJS.ProcessEnv = {};
        for (const variable of container.env as Yaml[]) {
          if (variable.valueFrom?.fieldRef) env[variable.name] = String(index);
          else if (variable.valueFrom?.secretKeyRef) env[variable.name] = t.uri;
          else env[variable.name] = variable.name === 'TaskRunner__Storage__Mongo__Database' ? t.dbName : variable.value;
        }
        const args = (container.args as string[]).map((arg) => arg.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (_match, name: string) => env[name] ?? ''));
        return runContainer(container.command[0], args, env, mounts);
      }),
    );
    for (const result of results) expect([0, 3], result.stderr).toContain(result.code);
    expect(results.filter((result) => result.code === 3).length, 'the indexes owning the sample\'s rejections exit 3 (FailIndex)').toBeGreaterThan(0);
    expect(dumpText(await dumpDatabase(t.db))).toBe(referenceDump);
    expect(await rejectLines(reports)).toBe(15);
    expect((await readdir(reports)).every((file) => /^rejects-[0-3]\.ndjson$/.test(file))).toBe(true);
    expect(await hashTree(tree.root)).toEqual(tree.hash);
  }, 120_000);
});

describe('docs/compose.yaml', () => {
  let compose: Yaml;

  beforeAll(async () => {
    compose = parse(await readFile(path.join(REPO, 'docs/compose.yaml'), 'utf8'), { merge: true });
  });

  test('one service per index 0..N-1 with the same command, N = --partitions; the tree read-only, the appsettings read-only', () => {
    const services = Object.values<Yaml>(compose.services);
    const indexes = services.map((service) => Number(service.environment.JOB_COMPLETION_INDEX)).sort();
    expect(indexes).toEqual(Array.from({ length: services.length }, (_, index) => index));
    for (const service of services) {
      const entrypoint: string[] = service.entrypoint;
      expect(entrypoint[entrypoint.indexOf('--partitions') + 1]).toBe(String(services.length));
      expect(entrypoint[entrypoint.indexOf('--partition') + 1]).toBe('auto');
      expect(service.volumes).toContain('taskrunner-data:/var/lib/taskrunner:ro');
      expect(service.volumes.some((volume: string) => volume.endsWith(':/etc/taskrunner/appsettings.json:ro'))).toBe(true);
      expect(service.restart).toBe('no');
    }
    expect(new Set(services.map((service) => JSON.stringify(service.entrypoint))).size).toBe(1);
  });

  test('its services, run side by side over fixtures/sample with the worker\'s appsettings mounted: the same database as one import', async () => {
    const t = await databases.open('docs_compose');
    const tree = await providerTree('compose-tree');
    const reports = path.join(work, 'compose-reports');
    await mkdir(reports);
    // The worker's own appsettings.json, as the service has it (Worker:Storage:Mongo).
    const settings = path.join(work, 'worker-appsettings.json');
    await writeFile(settings, JSON.stringify({ Worker: { Storage: { Mode: 'mongo', Mongo: { ConnectionString: t.uri, Database: t.dbName } } } }, null, 2));
    const results = await Promise.all(
      Object.values<Yaml>(compose.services).map((service) => {
        const mounts = new Map<string, string>(
          (service.volumes as string[]).map((volume) => {
            const [from = '', to = ''] = volume.split(':');
            return [to, from === 'taskrunner-data' ? tree.root : from === './reports' ? reports : from.endsWith('appsettings.json') ? settings : 'unmapped'];
          }),
        );
        const [executable = '', ...fixed] = service.entrypoint as string[];
        return runContainer(executable, [...fixed, ...(service.command as string[])], service.environment, mounts);
      }),
    );
    for (const result of results) expect([0, 3], result.stderr).toContain(result.code);
    expect(dumpText(await dumpDatabase(t.db))).toBe(referenceDump);
    expect(await rejectLines(reports)).toBe(15);
    expect(await hashTree(tree.root)).toEqual(tree.hash);
  }, 120_000);
});
