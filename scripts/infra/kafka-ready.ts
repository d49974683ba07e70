// Waits until the broker answers metadata and is a member of its cluster (unfenced), creates the
// service's topics (idempotently) and has one acknowledged produce, so "ready" means the broker
// really accepts work.
// Usage: tsx scripts/infra/kafka-ready.ts <broker> [timeoutSeconds] [serverPid] [nodeId] [replicas] [minInsync]
// With a pid, it gives up at once when that process has exited (no point waiting for a dead broker).
// Topics get `replicas` copies and, in a cluster, min.insync.replicas = `minInsync`.
import { Kafka, logLevel } from "kafkajs";
import { Topics } from "../../lib/channel/types";
import { runProbe } from "./probe";

const READY_TOPIC = "infra.ready";

const nodeId = Number(process.argv[5] ?? "1");
const replicationFactor = Number(process.argv[6] ?? "1");
const minInsync = Number(process.argv[7] ?? "1");

async function attempt(kafka: Kafka): Promise<void> {
  const admin = kafka.admin();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  try {
    await admin.connect();
    // A restarted broker answers before the controller has unfenced it: it is ready once the
    // cluster's metadata lists it again.
    const { brokers } = await admin.describeCluster();
    if (!brokers.some((b) => b.nodeId === nodeId))
      throw new Error(`broker ${nodeId} is not in the cluster yet`);
    const existing = new Set(await admin.listTopics());
    const configEntries =
      replicationFactor > 1 ? [{ name: "min.insync.replicas", value: String(minInsync) }] : [];
    const wanted = [
      { topic: Topics.orderEvents, numPartitions: 3 },
      { topic: Topics.paymentEvents, numPartitions: 3 },
      { topic: Topics.paymentDeadLetters, numPartitions: 1 },
      { topic: READY_TOPIC, numPartitions: 1 },
    ]
      .filter((t) => !existing.has(t.topic))
      .map((t) => ({ ...t, replicationFactor, configEntries }));
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
