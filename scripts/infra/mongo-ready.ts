// Waits until the MongoDB-protocol server really serves a write and a read, with the driver the
// service uses (mongodb 3.x under moleculer-db-adapter-mongo).
// Usage: npx tsx scripts/infra/mongo-ready.ts <mongo-url> [timeoutSeconds]
import { MongoClient } from "mongodb";

async function main(): Promise<void> {
  const url = process.argv[2] ?? "mongodb://127.0.0.1:27027/orders";
  const deadline = Date.now() + Number(process.argv[3] ?? "60") * 1000;
  for (;;) {
    let client: MongoClient | undefined;
    try {
      client = await MongoClient.connect(url, { useUnifiedTopology: true, serverSelectionTimeoutMS: 1000 });
      const probe = client.db("infra_probe").collection("probe");
      await probe.insertOne({ at: new Date() });
      await probe.findOne({});
      await probe.deleteMany({});
      await client.close();
      return;
    } catch (err) {
      await client?.close().catch(() => undefined);
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}

main().catch((err: Error) => {
  console.error(`mongo not ready: ${err.message}`);
  process.exit(1);
});
