import yargs from 'yargs';
import { BackfillRuntimeError, UsageError } from '../errors.js';
import { TOOL_VERSION } from '../tool-version.js';
import type { CliIo } from './cli-io.js';
import { importCommand, importOptions, type ImportArgs } from './commands/import-command.js';
import { planCommand, type PlanArgs } from './commands/plan-command.js';
import { verifyCommand, verifyOptions, type VerifyArgs } from './commands/verify-command.js';
import { statusCommand, statusOptions, type StatusArgs } from './commands/status-command.js';
import { schemaCommand, schemaOptions, type SchemaArgs } from './commands/schema-command.js';
import { preflightCommand, preflightOptions, type PreflightArgs } from './commands/preflight-command.js';
import { withSourceOptions } from './shared-options.js';
import { EXIT_CODES } from './exit-codes.js';
import { scrub, secretsOf } from '../config/redact.js';

/**
 * Parses argv, runs one command, and maps every error to an exit code: the only place that does.
 * Usage errors print the message and a pointer to --help; runtime errors their stable code.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let exitCode: number = EXIT_CODES.ok;
  const parser = yargs([...argv])
    .scriptName('taskrunner-backfill')
    .version(TOOL_VERSION)
    .usage('$0 <command> [options]\n\nMoves Task Runner pack-run history from the filesystem provider into MongoDB.')
    .command(
      'import',
      'Import the source tree into MongoDB (idempotent: run it again at any time)',
      (y) => importOptions(y),
      async (args) => {
        exitCode = await importCommand(args as unknown as ImportArgs, io);
      },
    )
    .command(
      'plan',
      'Dry run: read and normalize the source, print what an import would write; touches no database',
      (y) => withSourceOptions(y),
      async (args) => {
        exitCode = await planCommand(args as unknown as PlanArgs, io);
      },
    )
    .command(
      'verify',
      'Compare the source with the database, run by run, before switching the service; writes nothing',
      (y) => verifyOptions(y),
      async (args) => {
        exitCode = await verifyCommand(args as unknown as VerifyArgs, io);
      },
    )
    .command(
      'status',
      'What the ledger says: files done and pending per kind, the last import sessions, any lease held',
      (y) => statusOptions(y),
      async (args) => {
        exitCode = await statusCommand(args as unknown as StatusArgs, io);
      },
    )
    .command(
      'preflight',
      'The checklist to run first in the change window: connection, credentials, server, write access, schema, source tree, ledger, estimate',
      (y) => preflightOptions(y),
      async (args) => {
        exitCode = await preflightCommand(args as unknown as PreflightArgs, io);
      },
    )
    .command(
      'schema',
      'Create the spec\'s collections and indexes (adopting what exists), or compare with --check; run by import anyway',
      (y) => schemaOptions(y),
      async (args) => {
        exitCode = await schemaCommand(args as unknown as SchemaArgs, io);
      },
    )
    .demandCommand(1, 'Name a command: preflight, schema, plan, import, verify or status.')
    .strict()
    .help()
    .alias('h', 'help')
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    .exitProcess(false)
    .fail((message, error) => {
      throw error ?? new UsageError(message);
    })
    .epilog('Exit codes: 0 done, 1 failure, 2 usage error, 3 finished with rejections/conflicts (verify: differences), 4 stopped before the end (run the same command again).');

  try {
    let helpShown = false;
    await parser.parseAsync([...argv], {}, (error, _parsed, output) => {
      if (output && !error) {
        io.stdout.write(`${output}\n`);
        helpShown = true;
      }
    });
    if (helpShown) return EXIT_CODES.ok;
    return exitCode;
  } catch (error) {
    const secrets = secretsFromArgv(argv, io.env);
    if (error instanceof UsageError || (error instanceof Error && error.name === 'YError')) {
      io.stderr.write(`taskrunner-backfill: ${scrub(error.message, secrets)}\nRun "taskrunner-backfill --help" for usage.\n`);
      return EXIT_CODES.usage;
    }
    if (error instanceof BackfillRuntimeError) {
      io.stderr.write(`taskrunner-backfill: [${error.code}] ${scrub(error.message, secrets)}\n`);
      return error.code === 'DB_UNAVAILABLE' || error.code === 'INTERRUPTED' || error.code === 'LEASE_LOST' ? EXIT_CODES.interrupted : EXIT_CODES.failure;
    }
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    io.stderr.write(`taskrunner-backfill: internal error (a bug; please report it): ${scrub(message, secrets)}\n`);
    return EXIT_CODES.failure;
  }
}

/** Every connection string we might have been given, so error text can be scrubbed of its secrets. */
function secretsFromArgv(argv: readonly string[], env: NodeJS.ProcessEnv): string[] {
  const candidates = [...argv, ...Object.values(env).filter((value): value is string => typeof value === 'string')];
  return candidates
    .filter((value) => value.includes('mongodb://') || value.includes('mongodb+srv://'))
    .flatMap((value) => secretsOf(value.slice(value.indexOf('mongodb'))));
}
