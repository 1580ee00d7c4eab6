import type { CollectionNames } from '../config/collection-names.js';
import { ImportTally } from '../domain/import-tally.js';
import { buildImportReport, type ImportReport } from '../report/import-report.js';
import { findSourceFiles } from '../scan/find-source-files.js';
import type { SourceReadOptions } from '../read/source-options.js';
import { TOOL_NAME, TOOL_VERSION } from '../tool-version.js';
import { readSourceRecords } from '../read/read-source-records.js';
import type { RejectionAcceptance } from '../domain/rejection-acceptance.js';
import { countFiles } from './run-import.js';

/**
 * The dry run: the same read path as `import`, with a sink that only counts. In the report,
 * `inserted` is what an import into an empty database would write.
 */
export async function runPlan(
  options: SourceReadOptions & { collections: CollectionNames; acceptance?: RejectionAcceptance },
  now: () => Date = () => new Date(),
): Promise<ImportReport> {
  const startedAt = now();
  const tally = new ImportTally(undefined, undefined, options.acceptance);
  const inventory = await findSourceFiles(options.source, options.globs);
  await readSourceRecords(inventory, options, tally, {
    accept: async (role, batch) => {
      tally.count(role, 'inserted', batch.length);
    },
  });
  return buildImportReport(
    {
      command: 'plan',
      tool: { name: TOOL_NAME, version: TOOL_VERSION },
      startedAt,
      finishedAt: now(),
      source: options.source,
      complete: true,
      files: { ...countFiles(inventory), ignored: inventory.ignoredFiles, skippedUnchanged: 0 },
      collectionNames: options.collections,
    },
    tally,
  );
}
