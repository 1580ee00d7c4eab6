/**
 * The programmatic API of taskrunner-backfill. The CLI is a thin layer over these.
 */
export { runImport, type ImportOptions, type ImportDependencies } from './pipeline/run-import.js';
export { runPlan } from './pipeline/run-plan.js';
export { runVerify, type VerifyOptions, type VerifyDependencies } from './pipeline/run-verify.js';
export type {
  VerifyReport,
  VerifyCounts,
  VerifyScope,
  RunVerification,
  FieldDifference,
  KeyDetail,
  MismatchDetail,
  KeptNewerDetail,
  ExtraRuns,
} from './report/verify-report.js';
export { renderVerifyText } from './report/render-verify-text.js';
export { renderVerifyMarkdown } from './report/render-verify-markdown.js';
export { renderVerifyHtml } from './report/render-verify-html.js';
export { resolveConfig, type BackfillConfig, type CliOptions, type ConfigFileText } from './config/resolve-config.js';
export { DEFAULTS } from './config/defaults.js';
export { DEFAULT_COLLECTION_NAMES, type CollectionNames } from './config/collection-names.js';
export { DEFAULT_SOURCE_GLOBS, type SourceGlobs } from './scan/find-source-files.js';
export { redactConnectionString } from './config/redact.js';
export { ENUM_TABLES, type EnumStyle } from './normalize/enums.js';
export type { ImportReport } from './report/import-report.js';
export type { CollectionRole } from './domain/collection-roles.js';
export type { Outcome, OutcomeCounts, Rejection, Conflict, ReasonCode, WarningEntry } from './domain/outcomes.js';
// The exit-code policy: use cases return reports with outcomes; these give the code the CLI exits with.
export {
  EXIT_CODES,
  type ExitCode,
  importExitCode,
  verifyExitCode,
  schemaExitCode,
  preflightExitCode,
  selfCheckExitCode,
  errorExitCode,
} from './cli/exit-codes.js';
export { UsageError, BackfillRuntimeError, InternalError, type RuntimeErrorCode } from './errors.js';
export { runCli } from './cli/run-cli.js';
export { runSchema, type SchemaRunOptions, type SchemaRunDependencies } from './pipeline/run-schema.js';
export { runPreflight, type PreflightOptions, type PreflightDependencies } from './pipeline/run-preflight.js';
export { checkSchema } from './write/read-schema.js';
export type { SchemaCheck, SchemaItem } from './report/schema-check.js';
export type { SchemaReport } from './report/schema-report.js';
export type { PreflightReport, PreflightCheck } from './report/preflight-report.js';
