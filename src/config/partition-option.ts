import { UsageError } from '../errors.js';
import { WHOLE_SOURCE, type Partition } from '../domain/partition.js';
import type { GivenSetting } from './resolve-config.js';

/** The variable a Kubernetes Indexed Job sets in each pod: its 0-based completion index. */
export const JOB_COMPLETION_INDEX = 'JOB_COMPLETION_INDEX';

/** A whole number written the plain way (no sign, exponent, spaces or fraction). */
const DIGITS = /^\d+$/;

/**
 * Which partition this import owns, from `--partition` and `--partitions` (each also
 * `TaskRunnerBackfill__Partition(s)` in the environment or `TaskRunnerBackfill:Partition(s)` in a
 * config file, resolved flags > env > file by resolveConfig):
 *
 * - neither: the whole source;
 * - `K/N`: partition K of N (1-based); `--partitions`, if also given, must be N;
 * - `auto`: the pod's 0-based `JOB_COMPLETION_INDEX` (Kubernetes Indexed Job) I becomes partition
 *   I+1 of `--partitions N`, which must be the Job's `completions`.
 *
 * Anything else is a usage error (exit 2) saying what is wrong, where the value came from and what
 * to do, on one line.
 */
export function resolvePartition(given: { partition?: GivenSetting; partitions?: GivenSetting }, env: Readonly<Record<string, string | undefined>>): Partition {
  const { partition, partitions } = given;
  const count = partitions === undefined ? undefined : partitionCount(partitions);
  if (partition === undefined) {
    if (partitions === undefined) return WHOLE_SOURCE;
    throw new UsageError(`${partitions.from} is set but not --partition: pass --partition auto (in a Kubernetes Indexed Job) or --partition K/N`);
  }
  const text = typeof partition.value === 'string' ? partition.value.trim() : String(partition.value);
  if (text.toLowerCase() !== 'auto') {
    const explicit = parsePartitionFrom(text, partition.from);
    if (count !== undefined && count !== explicit.count) {
      throw new UsageError(`${partition.from} is ${text} but ${partitions?.from} is ${count}: they must agree (or leave out --partitions)`);
    }
    return explicit;
  }
  if (count === undefined) {
    throw new UsageError(`${partition.from} is auto but the number of partitions is not given: pass --partitions N (the Job's completions) or set TaskRunnerBackfill__Partitions`);
  }
  const raw = env[JOB_COMPLETION_INDEX];
  if (raw === undefined || raw === '') {
    throw new UsageError(`${partition.from} is auto but ${JOB_COMPLETION_INDEX} is not set (a Kubernetes Indexed Job sets it in each pod); elsewhere pass --partition K/N`);
  }
  const index = DIGITS.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
  if (!Number.isSafeInteger(index)) {
    throw new UsageError(`${JOB_COMPLETION_INDEX} must be a whole number from 0 (got ${JSON.stringify(raw)})`);
  }
  if (index >= count) {
    throw new UsageError(`${JOB_COMPLETION_INDEX}=${index} is not below ${partitions?.from} ${count}: the Job's completions and --partitions must be equal`);
  }
  return { index: index + 1, count };
}

function partitionCount(setting: GivenSetting): number {
  const { value } = setting;
  const count = typeof value === 'number' ? value : typeof value === 'string' && DIGITS.test(value.trim()) ? Number(value.trim()) : Number.NaN;
  if (!Number.isSafeInteger(count) || count < 1) {
    throw new UsageError(`${setting.from} must be a whole number of at least 1 (got ${typeof value === 'string' ? JSON.stringify(value) : String(value)})`);
  }
  return count;
}

function parsePartitionFrom(text: string, from: string): Partition {
  try {
    return parsePartition(text);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    // Said with where the value came from (the environment, a file) and that auto exists.
    throw new UsageError(`${from} must be K/N with 1 <= K <= N, or auto (got ${JSON.stringify(text)})`);
  }
}

/** Parses `K/N` (1 <= K <= N). */
function parsePartition(text: string): Partition {
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (!match || !Number.isSafeInteger(index) || !Number.isSafeInteger(count) || count < 1 || index < 1 || index > count) {
    throw new UsageError(`--partition must be K/N with 1 <= K <= N (got "${text}")`);
  }
  return { index, count };
}
