// What the ready checks of scripts/infra.sh share: retry one attempt until it succeeds, the
// deadline passes, or the server's process has died (no point waiting for a dead server).
import { readFileSync } from "node:fs";

/** The server process lives (a zombie, not yet reaped by init, counts as dead). */
export function alive(pid: number | undefined): boolean {
  if (!pid) return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** The attempt's outcome, or a timeout error at the deadline (whichever comes first). */
async function beforeDeadline(deadline: number, p: Promise<void>): Promise<void> {
  p.catch(() => undefined); // an attempt abandoned at the deadline may still fail later
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("timed out")), Math.max(0, deadline - Date.now()));
  });
  try {
    await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

export interface ProbeOptions {
  /** What is probed, for the messages ("kafka", "mongo"). */
  name: string;
  timeoutSeconds: number;
  pid?: number;
  pauseMs: number;
}

/** Runs the probe as the script's whole life: exit 0 once ready, 1 with the reason otherwise. */
export function runProbe(options: ProbeOptions, attempt: () => Promise<void>): void {
  const deadline = Date.now() + options.timeoutSeconds * 1000;
  const loop = async () => {
    for (;;) {
      try {
        await beforeDeadline(deadline, attempt());
        return;
      } catch (err) {
        if (!alive(options.pid)) throw new Error(`the server process ${options.pid} exited`);
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, options.pauseMs));
      }
    }
  };
  loop().then(
    () => process.exit(0),
    (err: Error) => {
      console.error(`${options.name} not ready: ${err.message}`);
      process.exit(1);
    },
  );
}
