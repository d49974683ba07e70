// The leader's periodic scans (recovery sweep, relay sweep, store gauges) each read every order
// on FerretDB's SQLite backend. Started together they landed in the same second and stalled the
// store for their sum; each gets its own phase within its interval instead. A scan also costs
// more as the store grows (0.1 ms per order: 4–10 s at 40 000 orders in the soak, where a
// refresh of the gauges every minute stalled the whole saga), so each run waits for the next
// at least SCAN_SPACING times as long as it took: scans stay a small share of the store's time.

export interface Periodic {
  stop(): void;
}

/** At most 1/SCAN_SPACING of the time goes to one periodic scan, however large the store. */
export const SCAN_SPACING = 50;

/** How long after a run's start the next one starts. */
export function nextStartAfter(intervalMs: number, tookMs: number, spacing = SCAN_SPACING): number {
  return Math.max(intervalMs, tookMs * spacing);
}

/**
 * Runs `task` every `intervalMs` (longer when a run takes more than 1/SCAN_SPACING of that), the
 * first time after `phase` (0 < phase ≤ 1) of an interval. Runs never overlap.
 */
export function every(
  intervalMs: number,
  phase: number,
  task: () => unknown,
  clock: () => number = Date.now,
): Periodic {
  let stopped = false;
  let timer: NodeJS.Timeout;
  const schedule = (delayMs: number) => {
    timer = setTimeout(run, delayMs);
    timer.unref();
  };
  async function run(): Promise<void> {
    const started = clock();
    try {
      await task();
    } catch {
      // Each task logs its own failures; the schedule goes on.
    }
    if (stopped) return;
    const took = clock() - started;
    schedule(Math.max(0, nextStartAfter(intervalMs, took) - took));
  }
  schedule(Math.round(intervalMs * phase));
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/** Phases of the scans that share one interval, a third of it apart (each also runs at start-up). */
export const PHASE = { relaySweep: 1 / 3, storeGauges: 2 / 3, recoverySweep: 1 } as const;
