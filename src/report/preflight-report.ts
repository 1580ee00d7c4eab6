import type { SchemaCheck } from './schema-check.js';
import { TextLines } from './text-lines.js';

/** `skip`: could not be checked because an earlier line failed (no connection). */
export type PreflightStatus = 'pass' | 'warn' | 'fail' | 'skip';

export type PreflightCheckId = 'connection' | 'authentication' | 'server' | 'write-access' | 'schema' | 'source' | 'attribution' | 'ledger' | 'estimate';

/** One line of the checklist, with what it found and, under it, the details. */
export interface PreflightCheck {
  id: PreflightCheckId;
  title: string;
  status: PreflightStatus;
  summary: string;
  details: string[];
}

/**
 * What `preflight` prints: the checklist an operator runs first in the change window. The `--json`
 * output adds `exitCode` (`preflightExitCode` in cli/exit-codes.ts).
 */
export interface PreflightReport {
  command: 'preflight';
  tool: { name: string; version: string };
  startedAt: string;
  finishedAt: string;
  source: string;
  database: { name: string; server: string };
  checks: PreflightCheck[];
  /** The schema comparison, when the database could be read. */
  schemaCheck?: SchemaCheck;
  /** The import's size and a duration estimate, when the source could be read. */
  estimate?: { records: number; bytes: number; seconds: number; documentsPerSecond: number };
  counts: Record<PreflightStatus, number>;
  /** False when the database could not be used at all: the server could not be reached, or it refused the credentials. */
  connected: boolean;
  /** Nothing failed (warnings allowed). */
  passed: boolean;
}

const LABELS: Readonly<Record<PreflightStatus, string>> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL', skip: 'SKIP' };

/** The checklist: one line per check (status, title, summary), its details indented below. */
export function renderPreflightText(report: PreflightReport): string {
  const lines = new TextLines();
  lines.line(`Preflight of ${report.source} -> ${report.database.name} on ${report.database.server}`);
  const width = Math.max(...report.checks.map((check) => check.title.length));
  for (const check of report.checks) {
    lines.line(`  ${LABELS[check.status]}  ${check.title.padEnd(width)}  ${check.summary}`);
    for (const detail of check.details) lines.line(`        ${' '.repeat(width)}  ${detail}`);
  }
  lines.line(preflightVerdictLine(report));
  return lines.toString();
}

export function preflightVerdictLine(report: PreflightReport): string {
  const { counts } = report;
  const tally = `${counts.pass} passed, ${counts.warn} warning(s), ${counts.fail} failed${counts.skip > 0 ? `, ${counts.skip} skipped` : ''}`;
  if (!report.connected) return `NOT READY: the database cannot be used (${tally}). Fix the connection first, then run preflight again.`;
  if (!report.passed) return `NOT READY: ${tally}. Fix the failed lines, then run preflight again.`;
  return `READY: ${tally}${counts.warn > 0 ? '; read the warnings' : ''}. Next: plan, then import.`;
}

/** `1.5 MiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** `2 h 05 min`, `4 min 10 s`, `12 s`, `under 1 s`. */
export function formatDuration(seconds: number): string {
  if (seconds < 1) return 'under 1 s';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}
