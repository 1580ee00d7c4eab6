import { MongoBulkWriteError, MongoError, MongoServerError } from 'mongodb';

/** Server error codes that mean "try again later" (stepdown, shutdown, network). */
const TRANSIENT_CODES = new Set([
  6, // HostUnreachable
  7, // HostNotFound
  89, // NetworkTimeout
  91, // ShutdownInProgress
  189, // PrimarySteppedDown
  262, // ExceededTimeLimit
  9001, // SocketException
  10107, // NotWritablePrimary
  11600, // InterruptedAtShutdown
  11602, // InterruptedDueToReplStateChange
  13435, // NotPrimaryNoSecondaryOk
  13436, // NotPrimaryOrSecondary
]);

/** Codes that never get better by waiting: credentials, permissions. */
const AUTH_CODES = new Set([13, 18, 8000]);

export const DUPLICATE_KEY = 11000;
export const NOT_IMPLEMENTED = 238;
/** A document the collection's validator refused (never transient, never a duplicate). */
export const DOCUMENT_VALIDATION_FAILURE = 121;

/** True for failures a retry may cure: the network, a restarting server, a primary stepping down. */
export function isTransientError(error: unknown): boolean {
  if (!(error instanceof MongoError)) {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    return code === 'ECONNRESET' || code === 'ECONNREFUSED' || code === 'EPIPE' || code === 'ETIMEDOUT';
  }
  // A validator's refusal is an answer about the document: waiting never changes it.
  if (error.code === DOCUMENT_VALIDATION_FAILURE) return false;
  if (error instanceof MongoBulkWriteError && error.writeErrors && (Array.isArray(error.writeErrors) ? error.writeErrors.length > 0 : true)) {
    return false; // per-document errors are answers, not outages
  }
  // The driver wraps an outage during a bulk write (insertMany, bulkWrite) in a MongoBulkWriteError
  // without per-document errors; the original error (e.g. MongoServerSelectionError) is its errorResponse.
  const wrapped: unknown = error instanceof MongoBulkWriteError ? (error as { errorResponse?: unknown }).errorResponse : undefined;
  if (wrapped instanceof Error && wrapped !== error && isTransientError(wrapped)) return true;
  if (error.hasErrorLabel('RetryableWriteError') || error.hasErrorLabel('TransientTransactionError')) return true;
  if (error.hasErrorLabel('ResetPool') || error.hasErrorLabel('SystemOverloadedError')) return true;
  const name = error.name;
  if (name === 'MongoNetworkError' || name === 'MongoNetworkTimeoutError' || name === 'MongoServerSelectionError' || name === 'MongoPoolClearedError' || name === 'MongoTopologyClosedError') {
    return true;
  }
  return typeof error.code === 'number' && TRANSIENT_CODES.has(error.code);
}

export function isAuthError(error: unknown): boolean {
  return error instanceof MongoServerError && typeof error.code === 'number' && AUTH_CODES.has(error.code);
}

export function isNotImplemented(error: unknown): boolean {
  return (
    error instanceof MongoServerError &&
    (error.code === NOT_IMPLEMENTED || /not implemented/i.test(error.message))
  );
}
