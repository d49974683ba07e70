// CPU and memory of the processes under test, from /proc (Linux): what each service node costs.
import { readFileSync } from "node:fs";

const TICKS_PER_SECOND = 100;

export interface ProcSample {
  at: number;
  cpuSeconds: number;
  rssMb: number;
}

export function sampleProc(pid: number): ProcSample | undefined {
  try {
    // Fields after the command name, which is in parentheses and may contain spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
    return { at: performance.now(), cpuSeconds: ticks / TICKS_PER_SECOND, rssMb: rssKb / 1024 };
  } catch {
    return undefined;
  }
}

/** CPU use between two samples, in percent of one core. */
export function cpuPercent(from: ProcSample, to: ProcSample): number {
  return (100 * (to.cpuSeconds - from.cpuSeconds)) / ((to.at - from.at) / 1000);
}

/**
 * The real servers started by scripts/infra.sh (their pid files in INFRA_DIR), for the CPU they
 * take beside the service nodes: the machine is shared by all of them.
 */
export function serverProcesses(
  infraDir = process.env.INFRA_DIR ?? "/tmp/order-service-infra",
): [string, number][] {
  const found: [string, number][] = [];
  for (const name of ["ferretdb", "kafka", "nats"]) {
    try {
      const pid = Number(readFileSync(`${infraDir}/pids/${name}.pid`, "utf8").trim());
      if (pid > 0 && sampleProc(pid)) found.push([name, pid]);
    } catch {
      // not started by infra.sh (servers given by URL only): not measured
    }
  }
  return found;
}

export interface MachineSample {
  busy: number;
  steal: number;
  total: number;
}

/** The whole machine's CPU ticks from /proc/stat: what every process took, ours or not. */
export function sampleMachine(): MachineSample | undefined {
  try {
    const cpu = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = cpu;
    return {
      busy: user + nice + system + irq + softirq,
      steal,
      total: user + nice + system + idle + iowait + irq + softirq + steal,
    };
  } catch {
    return undefined;
  }
}

/** Busy and stolen share of all cores between two samples, in percent. */
export function machineNote(from: MachineSample | undefined, to: MachineSample | undefined): string {
  if (!from || !to || to.total === from.total) return "machine: -";
  const share = (n: number) => ((100 * n) / (to.total - from.total)).toFixed(0);
  return `machine: ${share(to.busy - from.busy)}% of all cores busy, ${share(to.steal - from.steal)}% stolen by the host`;
}
