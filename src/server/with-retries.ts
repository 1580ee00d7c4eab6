import { setTimeout as sleep } from 'node:timers/promises';
import { BackfillRuntimeError } from '../errors.js';
import { isAuthError, isTransientError } from './server-errors.js';

/** Bounded exponential backoff for transient server errors. */
export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({ attempts: 8, initialDelayMs: 250, maxDelayMs: 8_000 });

/**
 * Runs one database step, retrying it on transient errors. Every step given here must be safe to
 * repeat (inserts are keyed, replacements guarded), so a retry after a half-applied batch only
 * meets duplicate keys. After the bound it fails with a message that says how to resume.
 */
export async function withRetries<T>(
  step: () => Promise<T>,
  policy: RetryPolicy,
  onRetry: (error: unknown, attempt: number, delayMs: number) => void,
): Promise<T> {
  let delay = policy.initialDelayMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (error) {
      if (isAuthError(error)) {
        throw new BackfillRuntimeError('DB_AUTH_FAILED', `the server refused the credentials or permissions: ${(error as Error).message}`, { cause: error });
      }
      if (!isTransientError(error)) throw error;
      if (attempt >= policy.attempts) {
        throw new BackfillRuntimeError(
          'DB_UNAVAILABLE',
          `the database stayed unavailable after ${attempt} attempts (${(error as Error).message}). ` +
            'Everything written so far is kept; run the same command again to resume.',
          { cause: error },
        );
      }
      onRetry(error, attempt, delay);
      await sleep(delay);
      delay = Math.min(delay * 2, policy.maxDelayMs);
    }
  }
}
