import pino, { type Logger } from 'pino';
import { formatLogRecord } from './log-text.js';
import type { StderrLines } from './stderr-lines.js';

/** `--log-format`: `auto` is `text` when stderr is a terminal, `json` otherwise. */
export const LOG_FORMATS = ['auto', 'text', 'json'] as const;

/** The format log records are written in. */
export type LogFormat = 'text' | 'json';

/**
 * `--log-format` resolved against the terminal: JSON lines (pino) unless a person is watching,
 * or asked for explicitly; readable one-line text on a terminal.
 */
export function resolveLogFormat(flag: string | undefined, stderrIsTTY: boolean): LogFormat {
  if (flag === 'text' || flag === 'json') return flag;
  return stderrIsTTY ? 'text' : 'json';
}

/** Where and how records are written. */
export interface LogOutput {
  format: LogFormat;
  /** Every record becomes one line here (above the progress bars while they are shown). */
  lines: StderrLines;
  /** Color the level label of text records. */
  color: boolean;
}

/**
 * Logs on stderr: pino JSON lines, or with `format: 'text'` one readable line per record
 * (`formatLogRecord`: no JSON, control characters from the input escaped). Either way each
 * record is written synchronously as one whole line through `output.lines`, so nothing is lost at
 * exit and, with progress bars on a terminal, lines land above the bars without tearing them.
 * Without `output`: JSON on fd 2, written synchronously.
 */
export function createLogger(level: string, secrets: readonly string[], output?: LogOutput): Logger {
  const destination = output
    ? {
        write: output.format === 'text'
          ? (line: string) => output.lines.line(formatLogRecord(line, { color: output.color }))
          : (line: string) => output.lines.line(line),
      }
    : pino.destination({ fd: 2, sync: true });
  return pino(
    {
      level,
      base: { tool: 'taskrunner-backfill' },
      formatters: {
        // Scrub connection-string secrets from anything a log line carries.
        log: (object) => JSON.parse(scrubJson(JSON.stringify(object), secrets)) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          const scrubbed = args.map((arg) => (typeof arg === 'string' ? scrubJson(arg, secrets) : arg)) as typeof args;
          method.apply(this, scrubbed);
        },
      },
    },
    destination,
  );
}

function scrubJson(text: string, secrets: readonly string[]): string {
  let clean = text;
  for (const secret of secrets) {
    if (secret.length === 0) continue;
    clean = clean.split(secret).join('***');
    const escaped = JSON.stringify(secret).slice(1, -1);
    if (escaped !== secret) clean = clean.split(escaped).join('***');
  }
  return clean;
}
