import { runPlan } from '../../pipeline/run-plan.js';
import { renderImportText } from '../../report/render-import-text.js';
import type { CliIo } from '../cli-io.js';
import { createRunOutput } from '../run-output.js';
import { loadConfig, logConfigSources, requireSource, requireSourceDirectory, type CommonArgs } from '../shared-options.js';
import { loadAcceptance } from '../accept-rejections.js';
import { assertSourceHasRunStates } from '../source-check.js';
import { importExitCode } from '../exit-codes.js';

export interface PlanArgs extends CommonArgs {
  json: boolean;
  quiet: boolean;
  logLevel?: string;
  logFormat?: string;
}

/** `plan`: the dry run. Never connects to a database. */
export async function planCommand(args: PlanArgs, io: CliIo): Promise<number> {
  const config = await loadConfig(args, io.env, io.cwd);
  const source = requireSource(config);
  await requireSourceDirectory(source);
  await assertSourceHasRunStates(source, config.globs, args.allowEmpty);
  const { logger } = createRunOutput(io, { quiet: args.quiet, logLevel: args.logLevel, logFormat: args.logFormat, secrets: [] });
  logConfigSources(logger, config);
  logger.info({ source }, 'plan starting (dry run; no database is touched)');
  const acceptance = await loadAcceptance(args.acceptRejections, io.cwd);
  const report = await runPlan({ ...config, source, ...(acceptance ? { acceptance } : {}) });
  const exitCode = importExitCode(report);
  io.stdout.write(args.json ? `${JSON.stringify({ ...report, exitCode })}\n` : renderImportText(report, exitCode));
  return exitCode;
}
