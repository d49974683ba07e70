// The one backoff rule of the project: exponential, capped, with full jitter when asked (many
// callers retrying the same dependency spread out instead of moving in step). Pure: the random
// source comes in.

export interface Backoff {
  baseMs: number;
  maxMs: number;
  /** Full jitter: a uniform draw below the exponential ceiling. */
  jitter: boolean;
}

/** The wait before retry number `attempt` (1 = the first retry). */
export function backoffDelay(policy: Backoff, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  return policy.jitter ? Math.floor(random() * ceiling) : ceiling;
}
