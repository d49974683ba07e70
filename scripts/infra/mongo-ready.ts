// Waits until the MongoDB-protocol server (FerretDB) really serves a command, a write and a read,
// with the driver the service uses (mongodb 3.x, as resolved by moleculer-db-adapter-mongo).
// Usage: tsx scripts/infra/mongo-ready.ts <mongo-url> [timeoutSeconds] [serverPid]
// With a pid, it gives up at once when that process has exited.
import { createRequire } from "node:module";
import type * as Mongo from "mongodb";
import { runProbe } from "./probe";

// The driver moleculer-db-adapter-mongo itself gets, whichever copy npm placed where.
const adapterRequire = createRequire(require.resolve("moleculer-db-adapter-mongo"));
const { MongoClient } = adapterRequire("mongodb") as typeof Mongo;

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

const url = process.argv[2] ?? "mongodb://127.0.0.1:27027/orders";
runProbe(
  {
    name: "mongo",
    timeoutSeconds: Number(process.argv[3] ?? "60"),
    pid: process.argv[4] ? Number(process.argv[4]) : undefined,
    pauseMs: 200,
  },
  () => attempt(url),
);
