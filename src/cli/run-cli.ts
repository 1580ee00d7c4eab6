import yargs, { type Argv } from 'yargs';
import { BackfillRuntimeError, UsageError } from '../errors.js';
import { TOOL_VERSION } from '../tool-version.js';
import type { CliIo } from './cli-io.js';
import { importCommand, importOptions, type ImportArgs } from './commands/import-command.js';
import { planCommand, type PlanArgs } from './commands/plan-command.js';
import { verifyCommand, verifyOptions, type VerifyArgs } from './commands/verify-command.js';
import { statusCommand, statusOptions, type StatusArgs } from './commands/status-command.js';
import { schemaCommand, schemaOptions, type SchemaArgs } from './commands/schema-command.js';
import { preflightCommand, preflightOptions, type PreflightArgs } from './commands/preflight-command.js';
import { selfCheckCommand, selfCheckOptions, type SelfCheckArgs } from './commands/self-check-command.js';
import { withSourceOptions } from './shared-options.js';
import { EXIT_CODES, errorExitCode } from './exit-codes.js';
import { scrub, secretsOf } from '../config/redact.js';
import { promptedSecrets } from './prompt-password.js';
import { checkArgs, rewordYargsMessage, unknownArgumentsMessage, type KnownOptions } from './usage-hints.js';

/**
 * Parses argv, runs one command, and turns every error into its message and exit code (the code
 * from `errorExitCode`, beside the rest of the policy in exit-codes.ts). Usage errors print one
 * line saying what is wrong and how to fix it (yargs' own messages are reworded, with "did you
 * mean" for a mistyped flag or command); runtime errors their stable code.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let exitCode: number = EXIT_CODES.ok;
  let command: CommandName | undefined;
  const run = (name: CommandName) => async (args: Record<string, unknown>) => {
    command = name;
    checkArgs(args, optionsOf(name));
    exitCode = await COMMANDS[name].run(args, io);
  };
  let parser = yargs([...argv])
    .scriptName('taskrunner-backfill')
    // English like every other message of the tool, and the same from the npm package and the
    // single executable (which has no yargs locale files to follow LANG with).
    .locale('en')
    .version(TOOL_VERSION)
    .usage('$0 <command> [options]\n\nMoves Task Runner pack-run history from the filesystem provider into MongoDB.');
  for (const name of COMMAND_NAMES) parser = parser.command(name, COMMANDS[name].describe, (y) => COMMANDS[name].build(y), run(name));
  parser = parser
    .demandCommand(1, 'Name a command: preflight, schema, plan, import, verify or status.')
    .strict()
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    .exitProcess(false)
    .fail((message, error) => {
      if (error) throw error;
      const named = command ?? commandIn(argv);
      if (/^Unknown arguments?:/.test(message) || /^Did you mean /.test(message)) {
        throw new UsageError(unknownArgumentsMessage(argv, named ? optionsOf(named) : undefined, named, COMMAND_NAMES));
      }
      throw new UsageError(rewordYargsMessage(message, named));
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
    const secrets = [...secretsFromArgv(argv, io.env), ...promptedSecrets];
    // Usage errors are one line: what is wrong and how to fix it (never a stack trace).
    if (error instanceof UsageError || (error instanceof Error && error.name === 'YError')) {
      const message = error instanceof UsageError ? error.message : rewordYargsMessage(error.message, command ?? commandIn(argv));
      io.stderr.write(`taskrunner-backfill: ${oneLine(scrub(message, secrets))}\n`);
    } else if (error instanceof BackfillRuntimeError) {
      io.stderr.write(`taskrunner-backfill: [${error.code}] ${oneLine(scrub(error.message, secrets))}\n`);
    } else {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      io.stderr.write(`taskrunner-backfill: internal error (a bug; please report it): ${scrub(message, secrets)}\n`);
    }
    return errorExitCode(error);
  }
}

type CommandName = 'preflight' | 'schema' | 'import' | 'plan' | 'verify' | 'status' | 'self-check';
const COMMAND_NAMES: readonly CommandName[] = ['preflight', 'schema', 'import', 'plan', 'verify', 'status', 'self-check'];

interface CommandSpec {
  describe: string;
  build: (y: Argv) => Argv;
  run: (args: Record<string, unknown>, io: CliIo) => Promise<number>;
}

const COMMANDS: Readonly<Record<CommandName, CommandSpec>> = {
  preflight: {
    describe: 'The checklist to run first in the change window: connection, credentials, server, write access, schema, source tree, ledger, estimate',
    build: (y) => preflightOptions(y),
    run: (args, io) => preflightCommand(args as unknown as PreflightArgs, io),
  },
  schema: {
    describe: "Create the spec's collections and indexes (adopting what exists), or compare with --check; run by import anyway",
    build: (y) => schemaOptions(y),
    run: (args, io) => schemaCommand(args as unknown as SchemaArgs, io),
  },
  import: {
    describe: 'Import the source tree into MongoDB (idempotent: run it again at any time)',
    build: (y) => importOptions(y),
    run: (args, io) => importCommand(args as unknown as ImportArgs, io),
  },
  plan: {
    describe: 'Dry run: read and normalize the source, print what an import would write; touches no database',
    build: (y) => withSourceOptions(y),
    run: (args, io) => planCommand(args as unknown as PlanArgs, io),
  },
  verify: {
    describe: 'Compare the source with the database, run by run, before switching the service; writes nothing',
    build: (y) => verifyOptions(y),
    run: (args, io) => verifyCommand(args as unknown as VerifyArgs, io),
  },
  status: {
    describe: 'What the ledger says: files done and pending per kind, the last import sessions, any lease held',
    build: (y) => statusOptions(y),
    run: (args, io) => statusCommand(args as unknown as StatusArgs, io),
  },
  'self-check': {
    describe: 'Check this installation: version, runtime (Node.js or the single executable), a worker thread round trip; touches no database',
    build: (y) => selfCheckOptions(y),
    run: (args, io) => selfCheckCommand(args as unknown as SelfCheckArgs, io),
  },
};

/** A command's options as yargs knows them, from a parser of its own (for hints and checks). */
function optionsOf(name: CommandName): KnownOptions {
  // getOptions() is public in yargs but missing from @types/yargs.
  const parser = COMMANDS[name].build(yargs([]).help().alias('h', 'help')) as unknown as { getOptions(): KnownOptions };
  return parser.getOptions();
}

/** The command named in argv, if the first word is one. */
function commandIn(argv: readonly string[]): CommandName | undefined {
  const word = argv.find((token) => !token.startsWith('-'));
  return COMMAND_NAMES.find((name) => name === word);
}

function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

/** Every connection string we might have been given, so error text can be scrubbed of its secrets. */
function secretsFromArgv(argv: readonly string[], env: NodeJS.ProcessEnv): string[] {
  const candidates = [...argv, ...Object.values(env).filter((value): value is string => typeof value === 'string')];
  return candidates
    .filter((value) => value.includes('mongodb://') || value.includes('mongodb+srv://'))
    .flatMap((value) => secretsOf(value.slice(value.indexOf('mongodb'))));
}
