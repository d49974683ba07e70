// `npm run bench -- --mode peer [--seconds N] [--concurrency N] [--open-rate N] [--warm-up N]`
// The service beside the system a user would pick instead: the Spring Boot order service in
// bench/peers/spring-boot (same REST API, same Kafka contracts, same store). Both run as one
// process each, alternately A B B A, on the same real Kafka and FerretDB and the same simulators:
// first at a fixed concurrency (closed model), then at one arrival rate (open model), the same
// for both. Prints each side's figures and the ratios ours ÷ peer.
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  copyFileSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
} from "node:fs";
import { homedir } from "node:os";
import { join, relative } from "node:path";
import { request } from "undici";
import { infraEnv } from "../test/helpers/env";
import { freePort } from "../test/helpers/http";
import { token } from "../test/helpers/jwt";
import { startWorld, type World } from "../test/helpers/world";
import { closedLoad, type LoadResult, openLoad, type Summary, sortedSummary, summarize } from "./load";
import { type ProcSample, sampleMachine, sampleProc, serverProcesses } from "./proc";
import { fmt, printTable, type Ratio, type Row } from "./report";
import { ROOT, resultStamp, writeResult } from "./runner";
import { type Completion, completionMs, observeSaga, placeOrders } from "./saga";

const PEER_DIR = join(__dirname, "peers", "spring-boot");
const LOG_DIR = process.env.TEST_LOG_DIR ?? join("/tmp", "order-service-test-logs");
/** Clock ticks of /proc/stat (USER_HZ): 100 per second on Linux. */
const TICK_MS = 10;
/**
 * After the load, the orders placed during it may still be completing (a side that accepts
 * orders faster than it completes them builds a backlog): the bench waits until all have, or
 * until none completed for this long.
 */
const DRAIN_IDLE_MS = 10_000;
const DRAIN_MAX_MS = 120_000;

export type Side = "ours" | "peer";

export interface PeerArgs {
  seconds: number;
  concurrency: number;
  /** Orders/s of the open model; 0 = half the lower of the two sides' closed-model rates. */
  openRate: number;
  /** Seconds of unrecorded load before each measurement (JIT, pools, caches). */
  warmUp: number;
}

/** The peer mode's options; every bad value is refused with the option's name. */
export function parsePeerArgs(argv: readonly string[]): PeerArgs {
  const value = (name: string, fallback: number, min: number): number => {
    const i = argv.indexOf(`--${name}`);
    if (i < 0) return fallback;
    const raw = argv[i + 1];
    const n = Number(raw);
    if (raw === undefined || raw.startsWith("--") || !Number.isFinite(n) || n < min)
      throw new Error(`--${name} needs a number ≥ ${min}, got ${raw === undefined ? "nothing" : `"${raw}"`}`);
    return n;
  };
  const seconds = value("seconds", 10, 1);
  const concurrency = value("concurrency", 32, 1);
  if (!Number.isInteger(concurrency))
    throw new Error(`--concurrency needs a whole number, got ${concurrency}`);
  return {
    seconds,
    concurrency,
    openRate: value("open-rate", 0, 0),
    warmUp: value("warm-up", Math.min(10, seconds), 0),
  };
}

/** One side's figures from one run (or the mean of its runs). */
export interface Figures {
  completedPerSecond: number;
  postP50: number;
  postP99: number;
  sagaP50: number;
  sagaP99: number;
  /** CPU of the service process per completed order. */
  serviceCpuMs: number;
  /** Every process on the machine (the shared machine's other work included), per completed order. */
  machineCpuMs: number;
  /** The service, FerretDB, Kafka, NATS and the bench process, per completed order. */
  testCpuMs: number;
  rssMb: number;
  readyMs: number;
  errors: Record<string, number>;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** The mean of each figure over a side's runs; errors are summed. */
export function meanFigures(runs: Figures[]): Figures {
  if (runs.length === 0) throw new Error("no runs to average");
  const errors: Record<string, number> = {};
  for (const r of runs) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
  const m = (pick: (f: Figures) => number) => mean(runs.map(pick));
  return {
    completedPerSecond: m((f) => f.completedPerSecond),
    postP50: m((f) => f.postP50),
    postP99: m((f) => f.postP99),
    sagaP50: m((f) => f.sagaP50),
    sagaP99: m((f) => f.sagaP99),
    serviceCpuMs: m((f) => f.serviceCpuMs),
    machineCpuMs: m((f) => f.machineCpuMs),
    testCpuMs: m((f) => f.testCpuMs),
    rssMb: m((f) => f.rssMb),
    readyMs: m((f) => f.readyMs),
    errors,
  };
}

/** The ratio lines of the issue, ours ÷ peer, with their targets. */
export function peerRatios(
  closed: { ours: Figures; peer: Figures },
  open: { ours: Figures; peer: Figures; rate: number },
): Ratio[] {
  const r = (a: number, b: number) => a / b;
  return [
    [
      "peer: completed orders/s, ours ÷ Spring Boot (closed model)",
      r(closed.ours.completedPerSecond, closed.peer.completedPerSecond),
      "≥ 1.0",
    ],
    [
      "peer: service CPU ms per completed order, ours ÷ Spring Boot",
      r(closed.ours.serviceCpuMs, closed.peer.serviceCpuMs),
      "≤ 1.0",
    ],
    ["peer: RSS at the end, ours ÷ Spring Boot", r(closed.ours.rssMb, closed.peer.rssMb), "≤ 0.5"],
    [
      "peer: time from start to ready, ours ÷ Spring Boot",
      r(closed.ours.readyMs, closed.peer.readyMs),
      "≤ 0.5",
    ],
    [
      `peer: saga completion p99 at ${fmt(open.rate, 0)} orders/s, ours ÷ Spring Boot`,
      r(open.ours.sagaP99, open.peer.sagaP99),
      "≤ 1.0",
    ],
    [
      "peer: CPU ms per completed order of the test's processes, ours ÷ Spring Boot",
      r(closed.ours.testCpuMs, closed.peer.testCpuMs),
      "(context)",
    ],
  ];
}

/** The open model's rate: the one asked for, else half of the slower side's closed-model rate. */
export function openRateFor(args: PeerArgs, closed: { ours: Figures; peer: Figures }): number {
  if (args.openRate > 0) return args.openRate;
  return Math.max(
    1,
    Math.floor(Math.min(closed.ours.completedPerSecond, closed.peer.completedPerSecond) / 2),
  );
}

/** Both sides' figures in two columns, as printed under the table. */
export function sideBySide(
  closed: { ours: Figures; peer: Figures },
  open: { ours: Figures; peer: Figures },
): string[] {
  const errs = (e: Record<string, number>) =>
    Object.entries(e)
      .map(([k, v]) => `${k}:${v}`)
      .join(" ") || "-";
  const lines: [string, string, string][] = [
    ["", "ours", "Spring Boot"],
    ["completed orders/s (closed)", fmt(closed.ours.completedPerSecond), fmt(closed.peer.completedPerSecond)],
    [
      "POST p50 / p99 ms (closed)",
      pair(closed.ours.postP50, closed.ours.postP99),
      pair(closed.peer.postP50, closed.peer.postP99),
    ],
    [
      "saga completion p50 / p99 ms (closed)",
      pair(closed.ours.sagaP50, closed.ours.sagaP99),
      pair(closed.peer.sagaP50, closed.peer.sagaP99),
    ],
    [
      "POST p50 / p99 ms (open)",
      pair(open.ours.postP50, open.ours.postP99),
      pair(open.peer.postP50, open.peer.postP99),
    ],
    [
      "saga completion p50 / p99 ms (open)",
      pair(open.ours.sagaP50, open.ours.sagaP99),
      pair(open.peer.sagaP50, open.peer.sagaP99),
    ],
    [
      "service CPU ms per completed order",
      fmt(closed.ours.serviceCpuMs, 2),
      fmt(closed.peer.serviceCpuMs, 2),
    ],
    [
      "test processes' CPU ms per completed order",
      fmt(closed.ours.testCpuMs, 2),
      fmt(closed.peer.testCpuMs, 2),
    ],
    [
      "whole machine CPU ms per completed order",
      fmt(closed.ours.machineCpuMs, 2),
      fmt(closed.peer.machineCpuMs, 2),
    ],
    ["RSS at the end, MB", fmt(closed.ours.rssMb, 0), fmt(closed.peer.rssMb, 0)],
    ["start to ready, ms", fmt(closed.ours.readyMs, 0), fmt(closed.peer.readyMs, 0)],
    ["errors (closed)", errs(closed.ours.errors), errs(closed.peer.errors)],
    ["errors (open)", errs(open.ours.errors), errs(open.peer.errors)],
  ];
  const w0 = Math.max(...lines.map((l) => l[0].length));
  const w1 = Math.max(...lines.map((l) => l[1].length));
  return lines.map(([a, b, c]) => `  ${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}`);
}

function pair(a: number, b: number): string {
  return `${fmt(a, 1)} / ${fmt(b, 1)}`;
}

// ---------------------------------------------------------------------------------------------
// building and starting the two services

function cacheDir(): string {
  return (
    process.env.ORDER_SERVICE_CACHE ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "order-service")
  );
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? filesUnder(path) : [path];
    })
    .sort();
}

function has(command: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * The peer's jar, built once per version of its sources (the jar is cached under the project's
 * cache, keyed by a hash of pom.xml and src/, and so is Maven's local repository).
 */
export function buildPeer(): string {
  const hash = createHash("sha256");
  for (const file of [join(PEER_DIR, "pom.xml"), ...filesUnder(join(PEER_DIR, "src"))]) {
    hash.update(relative(PEER_DIR, file));
    hash.update(readFileSync(file));
  }
  const jar = join(cacheDir(), `peer-spring-boot-${hash.digest("hex").slice(0, 16)}.jar`);
  if (existsSync(jar)) return jar;
  if (!has("javac") || !has("mvn")) {
    // The same packages scripts/infra.sh installs for Kafka, plus the compiler.
    process.stdout.write("installing a JDK and Maven (apt-get) to build the peer\n");
    execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit" });
    execFileSync("apt-get", ["install", "-y", "-qq", "default-jdk-headless", "maven"], {
      stdio: "inherit",
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
  }
  process.stdout.write(`building the Spring Boot peer (mvn package, cached as ${jar})\n`);
  mkdirSync(cacheDir(), { recursive: true });
  execFileSync(
    "nice",
    ["mvn", "-q", "-B", `-Dmaven.repo.local=${join(cacheDir(), "m2")}`, "-DskipTests", "package"],
    { cwd: PEER_DIR, stdio: "inherit" },
  );
  copyFileSync(join(PEER_DIR, "target", "order-service-peer.jar"), `${jar}.tmp`);
  renameSync(`${jar}.tmp`, jar);
  return jar;
}

interface Running {
  side: Side;
  process: ChildProcess;
  url: string;
  readyMs: number;
  stop(): Promise<void>;
}

export interface Launch {
  /** The compiled service's entry (`node dist/index.js`), as the Docker image runs it. */
  nodeArgs: string[];
  /** The image's environment for the Node service (its heap cap). */
  nodeEnv: Record<string, string>;
  jar: string;
}

/**
 * JVM sizing a Spring team ships in a 512 MB container: heap at 75% (`-XX:MaxRAMPercentage=75`,
 * written out since this machine is not a container), the collector JVM ergonomics picks.
 * PEER_JAVA_OPTS replaces it.
 */
const JAVA_OPTS = process.env.PEER_JAVA_OPTS?.split(/\s+/).filter(Boolean) ?? ["-Xmx384m"];

async function start(side: Side, world: World, launch: Launch): Promise<Running> {
  const port = await freePort();
  const env = world.cluster.nodeEnv(side, port);
  env.LOG_LEVEL = "warn";
  // Both keep 4 connections to FerretDB (ours' default: SQLite lets one writer in at a time).
  const mongo = new URL(env.MONGO_URL!);
  mongo.searchParams.set("maxPoolSize", "4");
  env.MONGO_URL = mongo.toString();
  const [command, args, readyPath] =
    side === "ours"
      ? [process.execPath, launch.nodeArgs, "/ready"]
      : ["java", [...JAVA_OPTS, "-jar", launch.jar], "/actuator/health/readiness"];
  mkdirSync(LOG_DIR, { recursive: true });
  const log = createWriteStream(join(LOG_DIR, `${world.cluster.id}-${side}.log`), { flags: "a" });
  const t0 = performance.now();
  const child = spawn(command, args, {
    cwd: ROOT,
    env: side === "ours" ? { ...env, ...launch.nodeEnv } : env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    const forced = setTimeout(() => child.kill("SIGKILL"), 15_000);
    await exited;
    clearTimeout(forced);
  };
  // Polled every 20 ms: start-up is one of the figures.
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`${side} exited with ${child.exitCode} before it was ready (log: ${LOG_DIR})`);
    if (performance.now() - t0 > 180_000) {
      await stop();
      throw new Error(`${side} not ready after 180 s (log: ${LOG_DIR})`);
    }
    const ready = await request(`${url}${readyPath}`)
      .then(async (res) => {
        await res.body.dump();
        return res.statusCode === 200;
      })
      .catch(() => false);
    if (ready) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return { side, process: child, url, readyMs: performance.now() - t0, stop };
}

// ---------------------------------------------------------------------------------------------
// one run

interface RunResult {
  figures: Figures;
  rows: Row[];
}

function cpuMs(before: (ProcSample | undefined)[], after: (ProcSample | undefined)[]): number {
  let ms = 0;
  before.forEach((b, i) => {
    const a = after[i];
    if (a && b) ms += (a.cpuSeconds - b.cpuSeconds) * 1000;
  });
  return ms;
}

async function drain(placed: Completion["placed"], done: Completion["done"]): Promise<void> {
  const t0 = performance.now();
  let last = -1;
  let lastChange = t0;
  for (;;) {
    const pending = [...placed.keys()].filter((id) => !done.has(id)).length;
    const now = performance.now();
    if (pending !== last) {
      last = pending;
      lastChange = now;
    }
    if (pending === 0 || now - lastChange > DRAIN_IDLE_MS || now - t0 > DRAIN_MAX_MS) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Some of the orders placed in the run, read back through the API: each must be CONFIRMED. */
async function assertConfirmed(running: Running, completion: Completion, auth: Record<string, string>) {
  const ids = [...completion.placed.keys()].slice(0, 3);
  if (ids.length === 0) throw new Error(`${running.side}: no order was accepted (202)`);
  for (const id of ids) {
    const res = await request(`${running.url}/api/v1/orders/${id}`, { headers: auth });
    const order = (await res.body.json()) as { status?: string };
    if (res.statusCode !== 200 || order.status !== "CONFIRMED")
      throw new Error(
        `${running.side}: order ${id} is ${order.status ?? `HTTP ${res.statusCode}`}, not CONFIRMED: the saga did not finish`,
      );
  }
}

async function run(
  side: Side,
  round: number,
  model: { kind: "closed"; concurrency: number } | { kind: "open"; rate: number },
  args: PeerArgs,
  launch: Launch,
): Promise<RunResult> {
  const infra = infraEnv();
  if ("skip" in infra) throw new Error(`--mode peer ${infra.skip}`);
  const world = await startWorld(infra, { failureRate: 0, failCents: [13], latencyMs: 0 });
  let running: Running | undefined;
  let observer: Awaited<ReturnType<typeof observeSaga>> | undefined;
  try {
    running = await start(side, world, launch);
    const completion: Completion = { placed: new Map(), done: new Map() };
    observer = await observeSaga(
      infra.kafkaBrokers,
      world.cluster.topics,
      `${world.cluster.id}-observer`,
      completion,
    );
    const auth = { authorization: `Bearer ${await token("bench-user")}` };
    const url = `${running.url}/api/v1/orders`;
    if (args.warmUp > 0) {
      const scratch: Completion = { placed: new Map(), done: new Map() };
      await closedLoad(
        `${side} warm-up`,
        placeOrders(() => url, auth, scratch),
        args.concurrency,
        args.warmUp * 1000,
      );
      // The warm-up's backlog is not carried into the measurement.
      await drain(scratch.placed, completion.done);
      await new Promise((r) => setTimeout(r, 1_000));
    }
    const measured: number[] = [
      running.process.pid!,
      ...serverProcesses().map(([, pid]) => pid),
      process.pid,
    ];
    const before = measured.map((pid) => sampleProc(pid));
    const machineBefore = sampleMachine();
    const shot = placeOrders(() => url, auth, completion);
    const label = model.kind === "closed" ? `closed, ${model.concurrency} clients` : `open, ${model.rate}/s`;
    const loadStart = performance.now();
    const result: LoadResult =
      model.kind === "closed"
        ? await closedLoad(`${side} ${label}`, shot, model.concurrency, args.seconds * 1000)
        : await openLoad(`${side} ${label}`, shot, model.rate, args.seconds * 1000);
    const after = measured.map((pid) => sampleProc(pid));
    const machineAfter = sampleMachine();
    const loadEnd = performance.now();
    await drain(completion.placed, completion.done);
    const rssMb = sampleProc(running.process.pid!)?.rssMb ?? Number.NaN;
    await assertConfirmed(running, completion, auth);
    const post = summarize(result);
    const saga = completionMs(completion);
    const seconds = result.durationMs / 1000;
    const incomplete = completion.placed.size - saga.length;
    const errors = { ...result.errors, ...(incomplete > 0 ? { "not-completed": incomplete } : {}) };
    // Throughput is what completed during the load (warm-up orders included: a backlog is work
    // the side has to do), so a long drain does not inflate it.
    const doneInWindow = [...completion.done.values()].filter(
      (at) => at >= loadStart && at <= loadEnd,
    ).length;
    const completed = Math.max(1, doneInWindow);
    const name = `${side === "ours" ? "ours (Node, 1 process)" : "Spring Boot peer"} run ${round}, ${label}`;
    const sagaSummary: Summary = sortedSummary(
      saga,
      doneInWindow / seconds,
      incomplete > 0 ? { "not-completed": incomplete } : {},
    );
    return {
      rows: [
        { name: `${name}: POST /api/v1/orders`, summary: post },
        { name: `${name}: saga completion`, summary: sagaSummary },
      ],
      figures: {
        completedPerSecond: doneInWindow / seconds,
        postP50: post.p50,
        postP99: post.p99,
        sagaP50: sagaSummary.p50,
        sagaP99: sagaSummary.p99,
        serviceCpuMs: cpuMs(before.slice(0, 1), after.slice(0, 1)) / completed,
        testCpuMs: cpuMs(before, after) / completed,
        machineCpuMs:
          machineBefore && machineAfter
            ? ((machineAfter.busy - machineBefore.busy) * TICK_MS) / completed
            : Number.NaN,
        rssMb,
        readyMs: running.readyMs,
        errors,
      },
    };
  } finally {
    await observer?.stop();
    await running?.stop();
    await world.stop();
  }
}

/** A B B A: a machine that speeds up or slows down during the run weighs on both sides alike. */
const ORDER: Side[] = ["ours", "peer", "peer", "ours"];

async function alternate(
  model: { kind: "closed"; concurrency: number } | { kind: "open"; rate: number },
  args: PeerArgs,
  launch: Launch,
  rows: Row[],
): Promise<{ ours: Figures; peer: Figures }> {
  const runs: Record<Side, Figures[]> = { ours: [], peer: [] };
  for (const side of ORDER) {
    const result = await run(side, runs[side].length + 1, model, args, launch);
    runs[side].push(result.figures);
    rows.push(...result.rows);
  }
  return { ours: meanFigures(runs.ours), peer: meanFigures(runs.peer) };
}

export async function peerMode(argv: readonly string[], launch: Omit<Launch, "jar">): Promise<void> {
  const args = parsePeerArgs(argv);
  const jar = buildPeer();
  console.log(
    `bench: mode peer, ${args.seconds}s per measurement after ${args.warmUp}s warm-up, concurrency ${args.concurrency}, node ${process.version}, ${spawnSync("java", ["-version"], { encoding: "utf8" }).stderr.split("\n")[0] ?? "java"}`,
  );
  const rows: Row[] = [];
  const full = { ...launch, jar };
  const closed = await alternate({ kind: "closed", concurrency: args.concurrency }, args, full, rows);
  const rate = openRateFor(args, closed);
  const open = await alternate({ kind: "open", rate }, args, full, rows);
  const ratios = peerRatios(closed, { ...open, rate });
  console.log("");
  printTable(rows, ratios);
  console.log("\nside by side (mean of each side's two runs; CPU, RSS and ready from the closed runs)");
  for (const line of sideBySide(closed, open)) console.log(line);
  const stamp = resultStamp();
  writeResult(
    `peer-${stamp}.json`,
    JSON.stringify({ mode: "peer", args, openRate: rate, closed, open, rows, ratios }, null, 2),
  );
  console.log(`\nresults: bench/results/peer-${stamp}.json`);
}
