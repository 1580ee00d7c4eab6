import readline from 'node:readline';
import cliProgress from 'cli-progress';
import type { Logger } from 'pino';
import type { SourceInventory } from '../scan/find-source-files.js';
import { COLLECTION_ROLES, type CollectionRole } from '../domain/collection-roles.js';

/** Size of the work per phase (one phase per kind of file), known after the scan. */
export type WorkTotals = Record<CollectionRole, { files: number; bytes: number }>;

/** Receives progress while an import runs. Every method must be cheap: it sits on the hot path. */
export interface ImportProgress {
  start(totals: WorkTotals): void;
  /** Records handed to the writer. */
  records(role: CollectionRole, count: number): void;
  /** A file finished (read and handed over, or skipped as unchanged). */
  fileDone(role: CollectionRole, bytes: number): void;
  stop(): void;
}

const PHASE_LABEL: Record<CollectionRole, string> = { runs: 'run state', approvals: 'approvals', artifacts: 'artifacts', logs: 'logs' };

/** The work of each phase: its files and their bytes (the bars are sized in bytes). */
export function workTotals(inventory: SourceInventory): WorkTotals {
  return Object.fromEntries(
    COLLECTION_ROLES.map((role) => [role, { files: inventory.files[role].length, bytes: inventory.files[role].reduce((sum, file) => sum + file.size, 0) }]),
  ) as WorkTotals;
}

/**
 * One bar per phase on stderr (cli-progress: a maintained library that handles redraw, ETA and
 * terminal width, which is not worth hand-writing), sized in bytes so the ETA holds for logs of
 * any length, with records/s. Only for a TTY; the CLI decides.
 *
 * `log` prints a line above the bars without tearing them: cli-progress' own `log` only queues the
 * line for its next redraw, never clears what a wrapped line leaves below it, skips redrawing a bar
 * whose text did not change (so after a line is printed above them, unchanged bars stay where they
 * were and the moved copy is missing, which shows up as duplicated bar lines in scrollback), and
 * drops queued lines at `stop`. So here every line is printed at once (queue, then an immediate
 * redraw that first clears the bars' rows), every bar is redrawn on every frame (`forceRedraw`),
 * lines wrap instead of being cut at the terminal's edge (`linewrap`: the bars themselves are
 * trimmed to the width), and before the bars are drawn or after they stopped a line is written
 * directly.
 */
export function createProgressBars(stream: NodeJS.WritableStream): ImportProgress & { log(line: string): void } {
  const multibar = new cliProgress.MultiBar(
    {
      stream,
      format: '{phase} |{bar}| {percentage}% | {files} files | {records} records | {rate} rec/s | ETA {eta_formatted}',
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      forceRedraw: true,
      linewrap: true,
      etaBuffer: 50,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  // Set while a line is being printed: the redraw then clears the bars' old rows first.
  let printing = false;
  multibar.on('redraw-pre', () => {
    if (printing) readline.clearScreenDown(stream);
  });
  /** True from the first bar drawn until stop. */
  let active = false;
  // A second Ctrl-C exits at once (main.ts): give the terminal its cursor back even then.
  const showCursor = (): void => void stream.write('\u001b[?25h');
  const bars = new Map<CollectionRole, { bar: cliProgress.SingleBar; files: number; records: number; bytes: number; started: number }>();
  let totals: WorkTotals | undefined;
  const update = (role: CollectionRole): void => {
    const entry = bars.get(role);
    if (!entry || !totals) return;
    const seconds = (Date.now() - entry.started) / 1000;
    entry.bar.update(entry.bytes, {
      phase: PHASE_LABEL[role].padEnd(9),
      files: `${entry.files}/${totals[role].files}`,
      records: entry.records,
      // A rate over a few milliseconds says nothing (150,000 rec/s for a phase of 150 records).
      rate: seconds >= 0.5 ? Math.round(entry.records / seconds) : '-',
    });
  };
  const barFor = (role: CollectionRole) => {
    let entry = bars.get(role);
    if (!entry && totals) {
      if (!active) process.once('exit', showCursor);
      active = true;
      const bar = multibar.create(Math.max(1, totals[role].bytes), 0, { phase: PHASE_LABEL[role].padEnd(9), files: `0/${totals[role].files}`, records: 0, rate: '-' });
      entry = { bar, files: 0, records: 0, bytes: 0, started: Date.now() };
      bars.set(role, entry);
    }
    return entry;
  };
  return {
    start(work) {
      totals = work;
    },
    records(role, count) {
      const entry = barFor(role);
      if (!entry) return;
      entry.records += count;
      update(role);
    },
    fileDone(role, bytes) {
      const entry = barFor(role);
      if (!entry) return;
      entry.files += 1;
      entry.bytes += bytes;
      update(role);
    },
    stop() {
      // Idempotent: the use case stops its progress, and the CLI stops it again on its way out.
      if (!active) return;
      active = false;
      process.removeListener('exit', showCursor);
      multibar.stop();
    },
    log(line) {
      if (!active) {
        stream.write(`${line}\n`);
        return;
      }
      multibar.log(`${line}\n`);
      printing = true;
      try {
        multibar.update();
      } finally {
        printing = false;
      }
    },
  };
}

/**
 * Progress lines in the pino log, at most one per interval: what a script, CI or a log file gets
 * instead of the bars. `message` names the command (`import progress`, `verify progress`).
 */
export function createProgressLog(logger: Logger, message = 'import progress', intervalMs = 10_000): ImportProgress {
  let totals: WorkTotals | undefined;
  const done = Object.fromEntries(COLLECTION_ROLES.map((role) => [role, { files: 0, records: 0, bytes: 0 }])) as Record<CollectionRole, { files: number; records: number; bytes: number }>;
  const started = Date.now();
  let last = Date.now();
  const maybeLog = (): void => {
    const now = Date.now();
    if (now - last < intervalMs || !totals) return;
    last = now;
    const records = COLLECTION_ROLES.reduce((sum, role) => sum + done[role].records, 0);
    const bytes = COLLECTION_ROLES.reduce((sum, role) => sum + done[role].bytes, 0);
    const totalBytes = COLLECTION_ROLES.reduce((sum, role) => sum + (totals?.[role].bytes ?? 0), 0);
    const seconds = (now - started) / 1000;
    logger.info(
      {
        progress: Object.fromEntries(COLLECTION_ROLES.map((role) => [role, { files: done[role].files, of: totals?.[role].files, records: done[role].records }])),
        recordsPerSecond: Math.round(records / seconds),
        percent: totalBytes > 0 ? Math.round((bytes / totalBytes) * 1000) / 10 : 100,
        etaSeconds: bytes > 0 ? Math.round(((totalBytes - bytes) * seconds) / bytes) : null,
      },
      message,
    );
  };
  return {
    start(work) {
      totals = work;
    },
    records(role, count) {
      done[role].records += count;
      maybeLog();
    },
    fileDone(role, bytes) {
      done[role].files += 1;
      done[role].bytes += bytes;
      maybeLog();
    },
    stop() {
      // nothing to release
    },
  };
}
