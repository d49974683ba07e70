// `npm run bench:compare -- <git revision> [<second revision>] [--rounds N] [--seconds N] [--concurrency N]`
// Is this checkout's embedded service slower than an earlier revision's? Both run the same
// measurement code (this checkout's bench/load.ts and bench/saga.ts): a fresh process per
// measurement places orders at a fixed concurrency for N seconds after a warm-up, and reports
// completed orders/s and the process's CPU (user + system) per completed order. The two sides
// alternate A B B A … so a machine that speeds up or slows down weighs on both alike; the ratio
// lines compare the means. CPU per order is the steadier figure on a shared machine: contention
// lowers throughput but barely changes the work an order takes.
//
// The revision is checked out with `git worktree` into a temporary directory; it uses this
// checkout's node_modules when its package.json dependencies are a subset (same versions),
// otherwise `npm ci` there.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { closedLoad } from "./load";
import { type Completion, placeOrders } from "./saga";

const ROOT = resolve(__dirname, "..");

/** What one measurement prints (the child's last line, JSON). */
interface Measured {
  orders: number;
  perSecond: number;
  cpuUsPerOrder: number;
}

/**
 * The child: one embedded node of the checkout at `dir` (its test/helpers/embedded-node.ts and
 * lib/channel), loaded by this checkout's load code; payments answered at once (the simulator's
 * latency would only add idle time).
 */
async function measureChild(dir: string, seconds: number, concurrency: number): Promise<Measured> {
  const { startEmbeddedNode } = await import(join(dir, "test/helpers/embedded-node.ts"));
  const { sharedMemoryChannel } = await import(join(dir, "lib/channel/index.ts"));
  const { token } = await import(join(dir, "test/helpers/jwt.ts"));
  const node = await startEmbeddedNode({
    LOG_LEVEL: "warn",
    RATE_LIMIT_PER_MINUTE: "100000000",
    TRACING_SAMPLING_RATE: "0",
  });
  node.embedded.payment?.setRules({ latencyMs: 0, failCents: [13] });
  let completed = 0;
  const sub = await sharedMemoryChannel().subscribe(
    { groupId: `compare-${Date.now()}`, topics: ["orders.events"] },
    async (m: { headers: Record<string, string> }) => {
      const type = m.headers["event-type"];
      if (type === "OrderConfirmed" || type === "OrderCancelled") completed++;
    },
  );
  const url = `${node.url}/api/v1/orders`;
  const auth = { authorization: `Bearer ${await token("bench-user")}` };
  const fresh = (): Completion => ({ placed: new Map(), done: new Map() });
  await closedLoad(
    "warm-up",
    placeOrders(() => url, auth, fresh()),
    concurrency,
    3_000,
  );
  await new Promise((r) => setTimeout(r, 500));
  const before = completed;
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  await closedLoad(
    "measure",
    placeOrders(() => url, auth, fresh()),
    concurrency,
    seconds * 1000,
  );
  // The orders accepted in the last moments complete within milliseconds (payment latency 0).
  await new Promise((r) => setTimeout(r, 300));
  const used = process.cpuUsage(cpu);
  const orders = completed - before;
  const elapsed = (performance.now() - t0) / 1000;
  await sub.stop();
  await node.stop();
  return {
    orders,
    perSecond: orders / elapsed,
    cpuUsPerOrder: (used.user + used.system) / orders,
  };
}

/** A checkout of `rev` beside this one, with dependencies; removed at the end. */
function checkoutOf(rev: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "bench-compare-"));
  const tree = join(dir, "tree");
  execFileSync("git", ["-C", ROOT, "worktree", "add", "--detach", tree, rev], { stdio: "ignore" });
  const deps = (d: string) =>
    JSON.parse(readFileSync(join(d, "package.json"), "utf8")).dependencies as Record<string, string>;
  const ours = deps(ROOT);
  const theirs = deps(tree);
  if (Object.entries(theirs).every(([name, version]) => ours[name] === version))
    symlinkSync(join(ROOT, "node_modules"), join(tree, "node_modules"));
  else execFileSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: tree, stdio: "inherit" });
  return {
    dir: tree,
    remove() {
      execFileSync("git", ["-C", ROOT, "worktree", "remove", "--force", tree], { stdio: "ignore" });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function runChild(dir: string, seconds: number, concurrency: number): Measured {
  const child = spawnSync(
    process.execPath,
    ["--import", "tsx", __filename, "--child", dir, String(seconds), String(concurrency)],
    { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
  );
  const last = child.stdout.trim().split("\n").at(-1) ?? "";
  if (child.status !== 0 || !last.startsWith("{")) throw new Error(`measurement in ${dir} failed`);
  return JSON.parse(last) as Measured;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === "--child") {
    const result = await measureChild(args[1]!, Number(args[2]), Number(args[3]));
    console.log(JSON.stringify(result));
    return;
  }
  const option = (name: string, fallback: number) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : fallback;
  };
  const revs = args.filter((a, i) => !a.startsWith("--") && !args[i - 1]?.startsWith("--"));
  const [rev, against] = revs;
  if (!rev || revs.length > 2)
    throw new Error(
      "usage: npm run bench:compare -- <git revision> [<revision instead of this checkout>] [--rounds N] [--seconds N]",
    );
  const rounds = option("rounds", 3);
  const seconds = option("seconds", 8);
  const concurrency = option("concurrency", 32);
  const head = execFileSync("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
  const base = checkoutOf(rev);
  const other = against ? checkoutOf(against) : undefined;
  const sides = other
    ? { [against!]: other.dir, [rev]: base.dir }
    : { [`this checkout (${head})`]: ROOT, [rev]: base.dir };
  const results: Record<string, Measured[]> = Object.fromEntries(Object.keys(sides).map((k) => [k, []]));
  try {
    const [a, b] = Object.keys(sides) as [string, string];
    for (let round = 0; round < rounds; round++) {
      // A B, then B A: each side runs first as often as second.
      for (const side of round % 2 === 0 ? [a, b] : [b, a]) {
        const m = runChild(sides[side]!, seconds, concurrency);
        results[side]!.push(m);
        console.log(
          `${side.padEnd(28)} ${m.perSecond.toFixed(0).padStart(6)} orders/s  ${m.cpuUsPerOrder.toFixed(0).padStart(5)} µs CPU per order`,
        );
      }
    }
    const ours = results[a]!;
    const theirs = results[b]!;
    const rate = mean(ours.map((m) => m.perSecond)) / mean(theirs.map((m) => m.perSecond));
    const cpu = mean(ours.map((m) => m.cpuUsPerOrder)) / mean(theirs.map((m) => m.cpuUsPerOrder));
    const spread = (ms: Measured[]) => {
      const xs = ms.map((m) => m.cpuUsPerOrder);
      return `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;
    };
    console.log(`\nratios, ${a} ÷ ${rev} (means of ${rounds} runs each)`);
    console.log(`  completed orders/s            ${rate.toFixed(2)}`);
    console.log(
      `  CPU per completed order       ${cpu.toFixed(2)}   (µs: ${spread(ours)} vs ${spread(theirs)})`,
    );
  } finally {
    base.remove();
    other?.remove();
  }
}

main()
  .then(() => process.exit(0))
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });
