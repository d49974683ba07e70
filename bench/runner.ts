// What every scenario of `npm run bench` shares: the options, the recording of rows and their
// per-second series, the warm-up, the notes beside a measurement (CPU and RSS of processes, the
// bench process's own stalls), the service nodes of the real-infra modes, and the results written
// to bench/results/. Nothing runs at import: bench/run.ts drives it.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { InfraEnv } from "../test/helpers/env";
import { startWorld, type World } from "../test/helpers/world";
import {
  closedLoad,
  type LoadResult,
  type Sample,
  type Shot,
  type Summary,
  sortedSummary,
  summarize,
} from "./load";
import { cpuPercent, type ProcSample } from "./proc";
import { fmt, printTable, type Ratio, type Row } from "./report";
import { type Completion, completionMs } from "./saga";
import { type Series, svg } from "./svg";

export const ROOT = join(__dirname, "..");
export const RESULTS = join(__dirname, "results");
const WARM_UP_MS = 3_000;

export interface BenchArgs {
  /** The command line as given (the peer mode parses its own options from it). */
  argv: readonly string[];
  /** embedded | infra1 | infra2 | all | peer */
  mode: string;
  seconds: number;
  concurrency: number;
  /** Seconds of the soak; 0: no soak. */
  soak: number;
  /** For profiling the service alone: no ceilings, so no ratios either. */
  skipCeilings: boolean;
  /** Orders/s of the two-node open model instead of half the measured peak: A/B runs at one load. */
  openRate: number;
}

export function parseArgs(argv: readonly string[]): BenchArgs {
  const arg = (name: string, fallback: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 && argv[i + 1] ? argv[i + 1]! : fallback;
  };
  return {
    argv,
    mode: arg("mode", process.env.KAFKA_BROKERS ? "all" : "embedded"),
    seconds: Number(arg("seconds", "10")),
    concurrency: Number(arg("concurrency", "32")),
    soak: Number(arg("soak", "0")),
    skipCeilings: argv.includes("--skip-ceilings"),
    openRate: Number(arg("open-rate", "0")),
  };
}

/** A measurement that was not taken (`--skip-ceilings`): its ratios come out as "-". */
export const NONE: Summary = {
  requests: 0,
  perSecond: Number.NaN,
  p50: Number.NaN,
  p90: Number.NaN,
  p99: Number.NaN,
  max: Number.NaN,
  errors: {},
};

/** What a saga completion row measures; rows that say only this are left out of the printed notes. */
export const COMPLETION = "POST → CONFIRMED/CANCELLED, from order events";

/** One run of the bench: its options and every row and series it measured, in order. */
export class Bench {
  readonly rows: Row[] = [];
  readonly series: Series = {};

  constructor(readonly args: BenchArgs) {}

  /** A closed-model measurement at the run's concurrency and length. */
  closed(label: string, shot: Shot): Promise<LoadResult> {
    return closedLoad(label, shot, this.args.concurrency, this.args.seconds * 1000);
  }

  /** Not recorded: JIT compilation, connection pools and caches settle before the measurement. */
  async warmUp(shot: Shot): Promise<void> {
    await closedLoad("warm-up", shot, this.args.concurrency, WARM_UP_MS);
    await new Promise((r) => setTimeout(r, 2_000));
  }

  /** A row of the table and its per-second series in the SVG. */
  record(name: string, result: LoadResult, note?: string): Summary {
    const summary = summarize(result);
    this.rows.push({ name, summary, note });
    this.timeline(name, result);
    return summary;
  }

  /** A row computed elsewhere than from a load's samples (no series). */
  row(name: string, summary: Summary, note?: string): Summary {
    this.rows.push({ name, summary, note });
    return summary;
  }

  /** The saga completion row: POST → the order's OrderConfirmed/OrderCancelled. */
  completion(name: string, c: Completion, seconds: number, note = COMPLETION): Summary {
    // Only orders placed in this measurement: earlier ones may still complete during it.
    const ms = completionMs(c);
    const summary = this.row(name, sortedSummary(ms, ms.length / seconds), note);
    // Per second of placement, so that a stall shows where it happened (plotted with the POSTs).
    const completed = [...c.done.entries()].filter(([id]) => c.placed.has(id));
    this.timeline(name, {
      samples: completed.map(([id, at]) => ({ at: c.placed.get(id)!, ms: at - c.placed.get(id)! })),
    });
    return summary;
  }

  private timeline(name: string, result: { samples: Pick<Sample, "at" | "ms">[] }): void {
    // Samples are kept in completion order: the earliest start is not necessarily the first.
    const start = result.samples.reduce((min, s) => Math.min(min, s.at), Number.POSITIVE_INFINITY);
    const buckets = new Map<number, number[]>();
    for (const s of result.samples) {
      const sec = Math.floor((s.at - start) / 1000);
      const bucket = buckets.get(sec);
      if (bucket) bucket.push(s.ms);
      else buckets.set(sec, [s.ms]);
    }
    this.series[name] = [...buckets.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([t, ms]) => {
        const sorted = ms.sort((a, b) => a - b);
        return { t, rps: ms.length, p99: sorted[Math.floor(sorted.length * 0.99)] ?? 0 };
      });
  }

  /** The table and the ratio lines, then the JSON with every figure and the SVG in bench/results/. */
  finish(ratios: Ratio[]): void {
    printTable(this.rows, ratios, COMPLETION);
    const stamp = resultStamp();
    const { mode, seconds, concurrency } = this.args;
    writeResult(
      `bench-${stamp}.json`,
      JSON.stringify({ mode, seconds, concurrency, rows: this.rows, ratios, series: this.series }, null, 2),
    );
    writeResult(`bench-${stamp}.svg`, svg(this.series));
    console.log(`\nresults: bench/results/bench-${stamp}.json and .svg`);
  }
}

export const resultStamp = () => new Date().toISOString().replace(/[:.]/g, "-");

/** Writes bench/results/<name>. */
export function writeResult(name: string, content: string): void {
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, name), content);
}

// ---------------------------------------------------------------------------------------------
// notes beside a measurement

/** Per process: CPU over the measurement (percent of one core) and RSS at its end. */
export function procNote(
  names: string[],
  before: (ProcSample | undefined)[],
  after: (ProcSample | undefined)[],
): string {
  return names
    .map((name, i) => {
      const a = before[i];
      const b = after[i];
      return a && b ? `${name}: CPU ${fmt(cpuPercent(a, b), 0)}%, RSS ${fmt(b.rssMb, 0)} MB` : `${name}: -`;
    })
    .join("; ");
}

/**
 * Stalls of the bench process itself (load generator, HTTP and payment simulators, observer) add
 * to every latency measured through it: reported beside the latencies they would inflate.
 */
export function loopDelay(): { stop(): string } {
  const resolutionMs = 10;
  const histogram = monitorEventLoopDelay({ resolution: resolutionMs });
  histogram.enable();
  return {
    stop() {
      histogram.disable();
      // The histogram holds whole timer intervals: the delay is what exceeds the interval.
      const ms = (ns: number) => fmt(Math.max(0, ns / 1e6 - resolutionMs), 1);
      return `bench process event-loop delay p99 ${ms(histogram.percentile(99))} ms, max ${ms(histogram.max)} ms`;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// the service nodes of the real-infra modes

/** The real servers' URLs (`source $INFRA_DIR/env` after scripts/infra.sh up), if all three are set. */
export function realServers(): InfraEnv | undefined {
  const { KAFKA_BROKERS: kafkaBrokers, MONGO_URL: mongoUrl, NATS_URL: natsUrl } = process.env;
  return kafkaBrokers && mongoUrl && natsUrl ? { kafkaBrokers, mongoUrl, natsUrl } : undefined;
}

/**
 * Environment of the service nodes of the real-infra modes: the image's NODE_OPTIONS (its heap
 * sizing, read from the Dockerfile), then BENCH_NODE_ENV (JSON), which may override it.
 */
export function benchNodeEnv(): Record<string, string> {
  const image = /^ENV NODE_OPTIONS=(\S+)$/m.exec(readFileSync(join(ROOT, "Dockerfile"), "utf8"))?.[1];
  return {
    ...(image ? { NODE_OPTIONS: image } : {}),
    ...(process.env.BENCH_NODE_ENV ? JSON.parse(process.env.BENCH_NODE_ENV) : {}),
  };
}

let compiled: string[] | undefined;
/**
 * Service nodes run what production runs: the compiled JavaScript (the Docker image's command),
 * not the TypeScript through tsx, whose loader costs about 30 MB of RSS and start-up time.
 */
export function compiledNodeArgs(): string[] {
  if (!compiled) {
    process.stdout.write("building dist/ for the service nodes (npm run build)\n");
    execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", "tsconfig.build.json"], {
      cwd: ROOT,
      stdio: "inherit",
    });
    compiled = [join(ROOT, "dist", "index.js")];
  }
  return compiled;
}

/**
 * The User, Inventory and payment simulators (no faults, no latency; 13 cents fails payment) and
 * a cluster on the real servers whose nodes run the compiled service with the image's
 * environment; `env` adds to it (BENCH_NODE_ENV still has the last word).
 */
export function startBenchWorld(servers: InfraEnv, env: Record<string, string> = {}): Promise<World> {
  return startWorld(
    servers,
    { failureRate: 0, failCents: [13], latencyMs: 0 },
    {
      extraEnv: { LOG_LEVEL: "warn", ...env, ...benchNodeEnv() },
      nodeArgs: compiledNodeArgs(),
    },
  );
}
