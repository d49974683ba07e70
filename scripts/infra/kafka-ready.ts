// Waits until the broker answers metadata, creates the service's topics (idempotently) and has one
// acknowledged produce, so "ready" means the broker really accepts work.
// Usage: tsx scripts/infra/kafka-ready.ts <broker> [timeoutSeconds] [serverPid]
// With a pid, it gives up at once when that process has exited (no point waiting for a dead broker).
import { Kafka, logLevel } from "kafkajs";
import { Topics } from "../../lib/channel/types";
import { runProbe } from "./probe";

const READY_TOPIC = "infra.ready";

async function attempt(kafka: Kafka): Promise<void> {
  const admin = kafka.admin();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  try {
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    const wanted = [
      { topic: Topics.orderEvents, numPartitions: 3, replicationFactor: 1 },
      { topic: Topics.paymentEvents, numPartitions: 3, replicationFactor: 1 },
      { topic: Topics.paymentDeadLetters, numPartitions: 1, replicationFactor: 1 },
      { topic: READY_TOPIC, numPartitions: 1, replicationFactor: 1 },
    ].filter((t) => !existing.has(t.topic));
    if (wanted.length) await admin.createTopics({ topics: wanted, waitForLeaders: true });
    await producer.connect();
    await producer.send({
      topic: READY_TOPIC,
      acks: -1,
      messages: [{ key: "probe", value: new Date().toISOString() }],
    });
  } finally {
    await producer.disconnect().catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
}

const kafka = new Kafka({
  clientId: "infra-ready",
  brokers: [process.argv[2] ?? "127.0.0.1:19092"],
  logLevel: logLevel.NOTHING,
  connectionTimeout: 1000,
  requestTimeout: 10_000,
  retry: { retries: 1, initialRetryTime: 200 },
});
runProbe(
  {
    name: "kafka",
    timeoutSeconds: Number(process.argv[3] ?? "90"),
    pid: process.argv[4] ? Number(process.argv[4]) : undefined,
    pauseMs: 300,
  },
  () => attempt(kafka),
);
