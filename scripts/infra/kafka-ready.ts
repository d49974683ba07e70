// Waits until the broker answers metadata, creates the service's topics (idempotently) and has one
// acknowledged produce, so "ready" means the broker really accepts work.
// Usage: tsx scripts/infra/kafka-ready.ts <broker> [timeoutSeconds] [serverPid]
// With a pid, it gives up at once when that process has exited (no point waiting for a dead broker).
import { readFileSync } from "node:fs";
import { Kafka, logLevel } from "kafkajs";
import { Topics } from "../../lib/channel/types";

const READY_TOPIC = "infra.ready";

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
  const broker = process.argv[2] ?? "127.0.0.1:19092";
  const deadline = Date.now() + Number(process.argv[3] ?? "90") * 1000;
  const pid = process.argv[4] ? Number(process.argv[4]) : undefined;
  const kafka = new Kafka({
    clientId: "infra-ready",
    brokers: [broker],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout: 10_000,
    retry: { retries: 1, initialRetryTime: 200 },
  });
  for (;;) {
    try {
      await beforeDeadline(deadline, attempt(kafka));
      return;
    } catch (err) {
      if (!alive(pid)) throw new Error(`the broker process ${pid} exited`);
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(`kafka not ready: ${err.message}`);
    process.exit(1);
  },
);
