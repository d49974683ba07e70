// The leader's periodic scans (recovery sweep, relay sweep, store gauges) each read every order
// on FerretDB's SQLite backend. Started together they landed in the same second and stalled the
// store for their sum; each gets its own phase within its interval instead.

export interface Periodic {
  stop(): void;
}

/** Runs `task` every `intervalMs`, the first time after `phase` (0 < phase ≤ 1) of an interval. */
export function every(intervalMs: number, phase: number, task: () => void): Periodic {
  let interval: NodeJS.Timeout | undefined;
  const first = setTimeout(
    () => {
      task();
      interval = setInterval(task, intervalMs);
      interval.unref();
    },
    Math.round(intervalMs * phase),
  );
  first.unref();
  return {
    stop() {
      clearTimeout(first);
      if (interval) clearInterval(interval);
    },
  };
}

/** Phases of the scans that share one interval, a third of it apart (each also runs at start-up). */
export const PHASE = { relaySweep: 1 / 3, storeGauges: 2 / 3, recoverySweep: 1 } as const;
