import pino, { type Logger } from 'pino';

/**
 * Logs are pino JSON on stderr (fd 2), written synchronously so nothing is lost at exit. With
 * progress bars on a TTY, lines go through the bars' own log so they do not tear the display.
 */
export function createLogger(level: string, secrets: readonly string[], destination?: { write(line: string): void }): Logger {
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
    destination ?? pino.destination({ fd: 2, sync: true }),
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
