/**
 * How far V8 lets the heap grow past what survived the last full collection, for the CLI process.
 *
 * The importer's live heap is small and flat (20-75 MB measured at 1M and 4M lines and 50,000
 * small files), but it allocates fast, and then V8 lets the old space grow to up to 4x what
 * survived before it collects again: peak RSS 220-240 MB for a live heap of 25-75 MB. A growing
 * factor of 1.5 keeps `verify` at 1M lines at ~160 MB, for a few per cent more CPU in full
 * collections (75 % halved that cost but put the 50,000-small-files re-run over 200 MB; measured
 * with `npm run bench` and `--trace-gc`, README "Performance"). V8 reads the flag at every full
 * collection, so setting it after start-up takes effect from the first one.
 *
 * Only the CLI sets it (never the programmatic API: an embedding process tunes its own heap), and
 * never over an operator's own choice of heap flags (`node --heap-growing-percent=...` on the
 * command line, or `--max-old-space-size` in `NODE_OPTIONS`, which takes no growing percent).
 */
import { setFlagsFromString } from 'node:v8';

/** 1 + 50/100: the heap may grow by half of what survived the last full collection. */
export const HEAP_GROWING_PERCENT = 50;

const HEAP_FLAGS = /--(heap[-_]growing[-_]percent|max[-_]old[-_]space[-_]size|max[-_]heap[-_]size)\b/;

/** True when the operator set heap sizing flags of their own (on the command line or in NODE_OPTIONS). */
export function operatorSetHeapFlags(execArgv: readonly string[], nodeOptions: string | undefined): boolean {
  return execArgv.some((flag) => HEAP_FLAGS.test(flag)) || HEAP_FLAGS.test(nodeOptions ?? '');
}

/** Limits heap growth for this process unless the operator chose heap flags of their own. */
export function limitHeapGrowth(execArgv: readonly string[] = process.execArgv, nodeOptions: string | undefined = process.env.NODE_OPTIONS): void {
  if (operatorSetHeapFlags(execArgv, nodeOptions)) return;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
