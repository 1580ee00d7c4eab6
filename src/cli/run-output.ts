import type { Logger } from 'pino';
import { DEFAULTS } from '../config/defaults.js';
import { createProgressBars, createProgressLog, type ImportProgress } from '../report/progress.js';
import type { CliIo } from './cli-io.js';
import { createLogger, resolveLogFormat } from './logger.js';
import { StderrLines } from './stderr-lines.js';

/** The stderr side of one command run. */
export interface RunOutput {
  logger: Logger;
  /** Bars on a terminal, periodic log lines otherwise; only when the command asked for progress. */
  progress?: ImportProgress;
  /** The stop notice and other plain lines (above the bars while they are shown). */
  lines: StderrLines;
  /** Stops the bars (if any) and hands stderr back; safe to call more than once. */
  close(): void;
}

export interface RunOutputOptions {
  quiet: boolean;
  logLevel?: string;
  /** `--log-format`: auto (default), text or json. */
  logFormat?: string;
  /** Secrets to scrub from every record. */
  secrets: readonly string[];
  /** Show progress; `message` is the periodic log line's message (`import progress`). */
  progress?: { message: string };
}

/**
 * Logger and progress display for a command, decided in one place: on a terminal, readable log
 * lines (unless `--log-format json`) printed above progress bars with ETA; otherwise JSON lines
 * and a progress line every 10 s. `--quiet` shows neither bars nor info lines.
 */
export function createRunOutput(io: CliIo, options: RunOutputOptions): RunOutput {
  const lines = io.lines ?? new StderrLines(io.stderr);
  const format = resolveLogFormat(options.logFormat, lines.isTTY);
  const color = format === 'text' && lines.isTTY && io.env.NO_COLOR === undefined;
  const level = options.quiet ? 'warn' : (options.logLevel ?? DEFAULTS.logLevel);
  const logger = createLogger(level, options.secrets, { format, lines, color });
  if (!options.progress) return { logger, lines, close: () => undefined };
  // Bars only for a person at a terminal; scripts and CI get the periodic log lines instead.
  if (options.quiet || !lines.isTTY) {
    return { logger, lines, progress: createProgressLog(logger, options.progress.message), close: () => undefined };
  }
  const bars = createProgressBars(lines.stream);
  lines.attach(bars);
  return {
    logger,
    lines,
    progress: bars,
    close() {
      bars.stop();
      lines.detach(bars);
    },
  };
}
