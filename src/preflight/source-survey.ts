import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { readSourceRecords } from '../read/read-source-records.js';
import { ImportTally } from '../domain/import-tally.js';
import { COLLECTION_ROLES, type CollectionRole } from '../domain/collection-roles.js';
import { fileStem, findSourceFiles, type SourceInventory } from '../scan/find-source-files.js';
import type { SourceFile } from '../domain/source-file.js';
import { checkSourceLayout, describeMissingLayout } from '../scan/source-layout.js';
import type { SourceReadOptions } from '../read/source-options.js';

/** What preflight learns of the source tree without writing anything or parsing the logs. */
export interface SourceSurvey {
  /** Set when --source is not a readable directory, or holds no run state file (the layout message). */
  problem?: string;
  files: Record<CollectionRole, number> & { ignored: number; unreadable: number };
  bytes: Record<CollectionRole, number>;
  /** Records: exact for runs, approvals and artifacts (their files are parsed); for logs the lines counted. */
  records: Record<CollectionRole, number>;
  /** Rejections met in state, approvals and manifest files (log lines are not parsed: `plan` reads them). */
  rejected: number;
  /** Log and approvals files whose name matches no run (imported under the file-name runId). */
  orphanRunIds: string[];
  /** Log and approvals files whose name matches two runs (not imported). */
  ambiguousFiles: string[];
  /** Files attributed to a run only after Unicode NFC normalization of their name. */
  normalizedFiles: number;
  /** The files, for the ledger comparison. */
  inventory?: SourceInventory;
}

/**
 * The source part of preflight: the same scanner as import (`findSourceFiles`); the run state,
 * approvals and manifest files read through the one read path (`readSourceRecords`, which gives
 * the runIds that attribute every other file), log files not parsed but their lines counted; then
 * each log and approvals file attributed by name as import would. Lighter than `plan`: a log tree
 * is read once, byte by byte, for line ends only.
 */
export async function surveySource(options: SourceReadOptions): Promise<SourceSurvey> {
  const empty = (): Record<CollectionRole, number> => ({ runs: 0, logs: 0, approvals: 0, artifacts: 0 });
  const survey: SourceSurvey = {
    files: { ...empty(), ignored: 0, unreadable: 0 },
    bytes: empty(),
    records: empty(),
    rejected: 0,
    orphanRunIds: [],
    ambiguousFiles: [],
    normalizedFiles: 0,
  };
  if (!(await isDirectory(options.source))) return { ...survey, problem: `--source ${options.source} is not a readable directory` };
  const missing = await checkSourceLayout(options.source, options.globs);
  const inventory = await findSourceFiles(options.source, options.globs);
  survey.inventory = inventory;
  survey.files.ignored = inventory.ignoredFiles;
  for (const role of COLLECTION_ROLES) {
    survey.files[role] = inventory.files[role].length;
    survey.bytes[role] = inventory.files[role].reduce((sum, file) => sum + file.size, 0);
    survey.files.unreadable += inventory.files[role].filter((file) => file.unreadable).length;
  }
  if (missing) survey.problem = describeMissingLayout(missing, options.globs);

  const tally = new ImportTally(0);
  const { runIds } = await readSourceRecords(
    inventory,
    options,
    tally,
    {
      accept: async (role, batch) => {
        survey.records[role] += batch.length;
      },
    },
    // Logs are only attributed below, never parsed here.
    { skipFile: (file) => file.role === 'logs' },
  );
  survey.rejected = tally.total('rejected');

  const orphans = new Set<string>();
  for (const file of [...inventory.files.logs, ...inventory.files.approvals]) {
    const resolution = runIds.resolve(fileStem(file.relativePath));
    if (resolution.kind === 'orphan') orphans.add(resolution.runId);
    else if (resolution.kind === 'ambiguous') survey.ambiguousFiles.push(file.relativePath);
    else if (resolution.normalizedFrom) survey.normalizedFiles += 1;
  }
  survey.orphanRunIds = [...orphans].sort();
  for (const file of inventory.files.logs) survey.records.logs += await countLines(file);
  return survey;
}

/** Lines in a log file: its line ends, plus a last line without one. Unreadable files count 0. */
async function countLines(file: SourceFile): Promise<number> {
  if (file.unreadable || file.size === 0) return 0;
  let lines = 0;
  let last = 0x0a;
  try {
    for await (const chunk of createReadStream(file.absolutePath, { start: 0, end: file.size - 1 }) as AsyncIterable<Buffer>) {
      let at = chunk.indexOf(0x0a);
      while (at !== -1) {
        lines += 1;
        at = chunk.indexOf(0x0a, at + 1);
      }
      if (chunk.length > 0) last = chunk[chunk.length - 1] as number;
    }
  } catch {
    return lines;
  }
  return last === 0x0a ? lines : lines + 1;
}

async function isDirectory(source: string): Promise<boolean> {
  try {
    return (await stat(source)).isDirectory();
  } catch {
    return false;
  }
}
