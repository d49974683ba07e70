// Waits until the MongoDB-protocol server (FerretDB) really serves a command, a write and a read,
// with the driver the service uses (mongodb 3.x, as resolved by moleculer-db-adapter-mongo).
// Usage: tsx scripts/infra/mongo-ready.ts <mongo-url> [timeoutSeconds] [serverPid]
// With a pid, it gives up at once when that process has exited.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type * as Mongo from "mongodb";

// The driver moleculer-db-adapter-mongo itself gets, whichever copy npm placed where.
const adapterRequire = createRequire(require.resolve("moleculer-db-adapter-mongo"));
const { MongoClient } = adapterRequire("mongodb") as typeof Mongo;

/** The server process lives (a zombie, not yet reaped by init, counts as dead). */
function alive(pid: number | undefined): boolean {
  if (!pid) return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

async function attempt(url: string): Promise<void> {
  const client = await MongoClient.connect(url, {
    useUnifiedTopology: true,
    serverSelectionTimeoutMS: 1000,
    connectTimeoutMS: 1000,
    socketTimeoutMS: 10_000,
  });
  try {
    const db = client.db("infra_probe");
    await db.command({ ping: 1 });
    const probe = db.collection("probe");
    await probe.insertOne({ at: new Date() });
    await probe.findOne({});
    await probe.deleteMany({});
  } finally {
    await client.close().catch(() => undefined);
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

async function main(): Promise<void> {
  const url = process.argv[2] ?? "mongodb://127.0.0.1:27027/orders";
  const deadline = Date.now() + Number(process.argv[3] ?? "60") * 1000;
  const pid = process.argv[4] ? Number(process.argv[4]) : undefined;
  for (;;) {
    try {
      await beforeDeadline(deadline, attempt(url));
      return;
    } catch (err) {
      if (!alive(pid)) throw new Error(`the server process ${pid} exited`);
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(`mongo not ready: ${err.message}`);
    process.exit(1);
  },
);
