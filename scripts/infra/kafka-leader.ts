// Prints the node id of the broker that leads one partition of a topic (scripts/infra.sh leader).
// Usage: tsx scripts/infra/kafka-leader.ts <brokers,comma,list> <topic> <partition>
// Exits 1 with the reason when the topic or partition does not exist or has no leader right now.
import { Kafka, logLevel } from "kafkajs";

async function main(): Promise<void> {
  const [brokers = "", topic = "", partitionArg = ""] = process.argv.slice(2);
  const partition = Number(partitionArg);
  if (!brokers || !topic || !Number.isInteger(partition) || partition < 0) {
    throw new Error("usage: kafka-leader.ts <brokers> <topic> <partition>");
  }
  const kafka = new Kafka({
    clientId: "infra-leader",
    brokers: brokers.split(","),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout: 5000,
    retry: { retries: 2, initialRetryTime: 200 },
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    const found = topics[0]?.partitions.find((p) => p.partitionId === partition);
    if (!found) throw new Error(`topic ${topic} has no partition ${partition}`);
    // -1: no leader (every replica in its ISR is down).
    if (found.leader < 0)
      throw new Error(`${topic}/${partition} has no leader now (ISR: ${found.isr.join(",")})`);
    console.log(found.leader);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

main().catch((err: Error) => {
  console.error(
    `leader: ${err.message.replace(/^This server does not host this topic-partition$/, "no such topic")}`,
  );
  process.exit(1);
});
