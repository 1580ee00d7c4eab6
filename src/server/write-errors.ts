import { MongoBulkWriteError, type WriteError } from 'mongodb';

/**
 * Per-document errors of a bulk write, or undefined when the error is not of that kind. The driver
 * also wraps a failure of the whole command (a closed connection, no server, a server that reports
 * an update's first error for the whole command) in a MongoBulkWriteError with no per-document errors: that is undefined
 * too, never "no errors", or a batch that was never written would be counted as written.
 */
export function perDocumentErrors(error: unknown): WriteError[] | undefined {
  if (error instanceof MongoBulkWriteError) {
    const errors = error.writeErrors as WriteError | WriteError[] | undefined;
    if (errors === undefined) return undefined;
    const list = Array.isArray(errors) ? errors : [errors];
    return list.length > 0 ? list : undefined;
  }
  return undefined;
}
