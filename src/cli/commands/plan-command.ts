import { DEFAULTS } from '../../config/defaults.js';
import { runPlan } from '../../pipeline/run-plan.js';
import { renderImportText } from '../../report/render-import-text.js';
import type { CliIo } from '../cli-io.js';
import { createLogger } from '../logger.js';
import { loadConfig, requireSource, requireSourceDirectory, type CommonArgs } from '../shared-options.js';

export interface PlanArgs extends CommonArgs {
  json: boolean;
  quiet: boolean;
  logLevel?: string;
}

/** `plan`: the dry run. Never connects to a database. */
export async function planCommand(args: PlanArgs, io: CliIo): Promise<number> {
  const config = await loadConfig(args, io.env, io.cwd);
  const source = requireSource(config);
  await requireSourceDirectory(source);
  const logger = createLogger(args.quiet ? 'warn' : (args.logLevel ?? DEFAULTS.logLevel), []);
  logger.info({ source }, 'plan starting (dry run; no database is touched)');
  const report = await runPlan({ ...config, source });
  io.stdout.write(args.json ? `${JSON.stringify(report)}\n` : renderImportText(report));
  return report.exitCode;
}
