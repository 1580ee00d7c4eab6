import Table from 'cli-table3';
import type { LedgerLease, LedgerSession } from '../ledger/ledger-types.js';
import { printable } from './printable.js';
import { TextLines } from './text-lines.js';

/** What `status` prints: the ledger's view of the backfill. */
export interface StatusReport {
  database: { name: string; server: string };
  ledgerCollection: string;
  files: Array<{ partition: string; role: string; status: string; files: number; records: number; rejected: number }>;
  sessions: LedgerSession[];
  leases: LedgerLease[];
}

/** The readable ledger summary; values read from the database are escaped (`TextLines`). */
export function renderStatusText(report: StatusReport, now: Date): string {
  const lines = new TextLines();
  lines.line(`Ledger ${report.ledgerCollection} in ${report.database.name} on ${report.database.server}`);
  if (report.files.length === 0) {
    lines.line('No file has been imported yet (or the ledger was not used).');
  } else {
    const table = new Table({ head: ['partition', 'kind', 'status', 'files', 'records', 'rejected'], style: { head: [], border: [] } });
    for (const row of report.files) table.push([printable(row.partition), printable(row.role), printable(row.status), row.files, row.records, row.rejected]);
    lines.block(table.toString());
    lines.line('done: imported and skipped next time while unchanged; done-with-issues: had rejections, conflicts or kept-newer records; read again on every run so they stay reported; partial: a log an interrupted run was in the middle of; the next run reads on from where it stopped.');
  }
  for (const lease of report.leases) {
    const live = lease.expiresAt.getTime() > now.getTime();
    lines.line(`Lease ${lease.partition}: ${live ? 'HELD' : 'expired'} by ${lease.host} pid ${lease.pid} (session ${lease.sessionId}) until ${lease.expiresAt.toISOString()}`);
  }
  const last = report.sessions[0];
  if (last) {
    lines.line(
      `Last session: ${last.outcome}, started ${last.startedAt.toISOString()}` +
        (last.finishedAt ? `, finished ${last.finishedAt.toISOString()}` : '') +
        `, partition ${last.partition}, tool ${last.toolVersion} on ${last.host}` +
        (last.totals ? `; inserted ${last.totals.inserted}, updated ${last.totals.updated}, unchanged ${last.totals.unchanged}, rejected ${last.totals.rejected}, conflicts ${last.totals.conflict}` : ''),
    );
    if (last.outcome === 'interrupted' || last.outcome === 'failed' || last.outcome === 'running') {
      lines.line('The last session did not finish: run the same import command again to resume.');
    }
  }
  return lines.toString();
}
