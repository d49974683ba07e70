// Retry and fallback rules for the synchronous edge. Pure: the proxies and the saga apply them.
import { backoffDelay } from "./backoff";

/** Outcome of one HTTP attempt, as far as the retry rule needs to know. */
export type AttemptOutcome =
  | { kind: "response"; status: number }
  | { kind: "network"; code: string }
  | { kind: "timeout" };

/** Connection failures, timeouts and 502/503/504 may heal on their own; anything else will not. */
export function isTransient(outcome: AttemptOutcome): boolean {
  if (outcome.kind !== "response") return true;
  return outcome.status === 502 || outcome.status === 503 || outcome.status === 504;
}

export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Budget for all attempts and waits together. */
  maxTotalMs: number;
}

/** The wait before retry `attempt`: exponential backoff with full jitter (domain/backoff.ts). */
export function retryDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  return backoffDelay(
    { baseMs: policy.baseDelayMs, maxMs: policy.maxDelayMs, jitter: true },
    attempt,
    random,
  );
}

/** May attempt `attempt + 1` start, given the time already spent and the wait before it? */
export function mayRetry(policy: RetryPolicy, attempt: number, elapsedMs: number, delayMs: number): boolean {
  return attempt < policy.maxAttempts && elapsedMs + delayMs < policy.maxTotalMs;
}

/** What the saga does with the user check (the fallback rules of docs/resilience.md). */
export type UserCheck =
  | { kind: "verified" }
  | { kind: "refused"; why: "blocked" | "unknown" }
  | { kind: "unavailable" };

/** User service down or circuit open: trust the identity the gateway verified, mark it unverified. */
export function userFallback(check: UserCheck): { proceed: boolean; userVerified: boolean } {
  switch (check.kind) {
    case "verified":
      return { proceed: true, userVerified: true };
    case "refused":
      return { proceed: false, userVerified: false };
    case "unavailable":
      return { proceed: true, userVerified: false };
  }
}

/** Inventory down or circuit open: no order, nothing reserved; the client may retry after this many seconds. */
export const INVENTORY_RETRY_AFTER_SECONDS = 5;

/** Error types the proxies raise when their dependency is down, slow or faulty. */
export const DEPENDENCY_ERROR_TYPES: ReadonlySet<string> = new Set([
  "DEPENDENCY_UNAVAILABLE",
  "DEPENDENCY_FAULT",
]);

export interface BreakerErrorLike {
  name?: string;
  type?: string;
  code?: number;
  data?: { action?: string };
}

/**
 * What opens a circuit: a proxy's dependency failing, or a call to a proxy timing out. Failures
 * of our own store or a client's bad input do not: the breaker guards the synchronous edge.
 */
export function countsForBreaker(err: BreakerErrorLike | null | undefined): boolean {
  if (!err) return false;
  if (err.type && DEPENDENCY_ERROR_TYPES.has(err.type)) return true;
  return err.name === "RequestTimeoutError" && /^[\w-]+-proxy\./.test(err.data?.action ?? "");
}
