import type { WarningCode } from '../domain/outcomes.js';
import type { EnumStyle } from './enums.js';

/** What every normalizer needs besides the record: output options and a place for warnings. */
export interface NormalizeContext {
  enumStyle: EnumStyle;
  /** Records a warning; the report folds identical (code, detail) pairs into one entry with a count. */
  warn(code: WarningCode, detail: string): void;
}
