// Waits until the broker answers metadata, then creates the service's topics (idempotently).
// Usage: npx tsx scripts/infra/kafka-ready.ts <broker> [timeoutSeconds]
import { Kafka, logLevel } from "kafkajs";
import { Topics } from "../../lib/channel/types";

async function main(): Promise<void> {
  const broker = process.argv[2] ?? "127.0.0.1:19092";
  const deadline = Date.now() + Number(process.argv[3] ?? "90") * 1000;
  const kafka = new Kafka({
    clientId: "infra-ready",
    brokers: [broker],
    logLevel: logLevel.NOTHING,
    retry: { retries: 1 },
  });
  for (;;) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      const existing = new Set(await admin.listTopics());
      const wanted = [
        { topic: Topics.orderEvents, numPartitions: 3, replicationFactor: 1 },
        { topic: Topics.paymentEvents, numPartitions: 3, replicationFactor: 1 },
        { topic: Topics.paymentDeadLetters, numPartitions: 1, replicationFactor: 1 },
        { topic: "infra.ready", numPartitions: 1, replicationFactor: 1 },
      ].filter((t) => !existing.has(t.topic));
      if (wanted.length) await admin.createTopics({ topics: wanted, waitForLeaders: true });
      // A produce round trip proves the broker really accepts work, not only metadata.
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      await producer.send({
        topic: "infra.ready",
        acks: -1,
        messages: [{ key: "probe", value: new Date().toISOString() }],
      });
      await producer.disconnect();
      await admin.disconnect();
      return;
    } catch (err) {
      await admin.disconnect().catch(() => undefined);
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

main().catch((err: Error) => {
  console.error(`kafka not ready: ${err.message}`);
  process.exit(1);
});
