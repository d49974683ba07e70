// The clustered servers of scripts/infra.sh (INFRA_KAFKA_BROKERS=3 INFRA_NATS_NODES=3), in a
// folder and on ports of their own (the suite's ports + 50), with the service's own clients:
// topics replicated 3 times with min.insync.replicas=2; the KafkaChannel (idempotent acks=all
// producer, consumer group) loses nothing while the group coordinator's broker and then the
// leader of a partition are killed; two Moleculer nodes configured by moleculer.config.ts keep
// calling each other while the NATS server of the caller is stopped; pause/resume; plain names
// refused in cluster mode. Run alone: node --import tsx --test test/integration/infra-cluster.test.ts
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Kafka, logLevel } from "kafkajs";
import { ServiceBroker } from "moleculer";
import { KafkaChannel } from "../../lib/channel/kafka-channel";
import { Topics } from "../../lib/channel/types";
import { loadConfig } from "../../lib/config";
import { brokerOptions } from "../../moleculer.config";
import { eventually } from "../helpers/http";

process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";

const ROOT = join(__dirname, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "infra-cluster-"));
const clusterEnv: NodeJS.ProcessEnv = {
  ...process.env,
  INFRA_DIR: dir,
  INFRA_KAFKA_BROKERS: "3",
  INFRA_NATS_NODES: "3",
  INFRA_SERVERS: "nats kafka",
  INFRA_NATS_PORT: String(Number(process.env.INFRA_NATS_PORT ?? 14222) + 50),
  INFRA_KAFKA_PORT: String(Number(process.env.INFRA_KAFKA_PORT ?? 19092) + 50),
};

/** DEBUG_KAFKA=1 prints the channel's log and every message received, to diagnose a failure. */
function debug(...parts: unknown[]): void {
  if (process.env.DEBUG_KAFKA) console.error(new Date().toISOString(), ...parts);
}

function infra(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync("bash", [join(ROOT, "scripts", "infra.sh"), ...args], {
    env: clusterEnv,
    encoding: "utf8",
    timeout: 240_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function must(...args: string[]): string {
  const r = infra(...args);
  assert.equal(r.status, 0, `infra.sh ${args.join(" ")} failed:\n${r.stderr}`);
  return r.stdout.trim();
}

describe("a 3-broker Kafka cluster and a 3-server NATS cluster from scripts/infra.sh", {
  timeout: 300_000,
}, () => {
  const env: Record<string, string> = {};

  before(() => {
    must("up");
    for (const line of readFileSync(join(dir, "env"), "utf8").split("\n")) {
      const m = /^export (\w+)=(.*)$/.exec(line);
      if (m) env[m[1]!] = m[2]!;
    }
  });

  after(() => {
    infra("down");
    rmSync(dir, { recursive: true, force: true });
  });

  test("the env file lists every broker and every NATS server", () => {
    const kafkaPort = Number(clusterEnv.INFRA_KAFKA_PORT);
    const natsPort = Number(clusterEnv.INFRA_NATS_PORT);
    assert.equal(env.KAFKA_BROKERS, [0, 10, 20].map((d) => `127.0.0.1:${kafkaPort + d}`).join(","));
    assert.equal(env.NATS_URL, [0, 10, 20].map((d) => `nats://127.0.0.1:${natsPort + d}`).join(","));
    const status = must("status");
    for (const name of ["kafka-1", "kafka-2", "kafka-3", "nats-1", "nats-2", "nats-3"])
      assert.match(status, new RegExp(`^${name} .* up `, "m"));
  });

  test("the service's topics have 3 replicas and min.insync.replicas=2", async () => {
    const admin = new Kafka({ brokers: env.KAFKA_BROKERS!.split(","), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const topics = [Topics.orderEvents, Topics.paymentEvents, Topics.paymentDeadLetters];
      const { topics: meta } = await admin.fetchTopicMetadata({ topics });
      for (const t of meta)
        for (const p of t.partitions)
          assert.equal(p.replicas.length, 3, `${t.name}/${p.partitionId} replicas`);
      const { resources } = await admin.describeConfigs({
        includeSynonyms: false,
        resources: topics.map((name) => ({ type: 2, name, configNames: ["min.insync.replicas"] })),
      });
      for (const r of resources) assert.equal(r.configEntries[0]?.configValue, "2", `${r.resourceName}`);
    } finally {
      await admin.disconnect();
    }
  });

  test("names: a leader is named kafka-N; plain names and unknown partitions are refused", () => {
    assert.match(must("leader", Topics.orderEvents, "0"), /^kafka-[123]$/);
    const plain = infra("stop", "kafka");
    assert.notEqual(plain.status, 0);
    assert.match(
      plain.stderr,
      /unknown server 'kafka' \(one of: nats-1 nats-2 nats-3 kafka-1 kafka-2 kafka-3\)/,
    );
    const missing = infra("leader", Topics.orderEvents, "9");
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /has no partition 9/);
  });

  test("the KafkaChannel loses nothing while the group coordinator's broker, then a partition leader, are killed", async () => {
    const channel = new KafkaChannel({
      brokers: env.KAFKA_BROKERS!.split(","),
      clientId: "cluster-test",
      logger: (level, message, extra) => {
        debug(level, message, JSON.stringify(extra));
      },
    });
    const received = new Set<string>();
    const topic = Topics.orderEvents;
    await channel.connect();
    const sub = await channel.subscribe(
      { groupId: "cluster-test", topics: [topic], fromBeginning: true },
      async (m) => {
        received.add(m.key);
        debug("got", m.key, m.partition, m.offset);
      },
    );
    const sent: string[] = [];
    const publish = async (round: string) => {
      const keys = Array.from({ length: 30 }, (_, i) => `${round}-${i}`);
      // Resolves only once every message is on 2 of 3 replicas at least (acks=all, min ISR 2). A
      // send that fails is sent again, as the outbox relay does.
      await eventually(
        () =>
          channel
            .publish(
              topic,
              keys.map((key) => ({ key, value: JSON.stringify({ key }), headers: {} })),
            )
            .then(() => true)
            .catch((err: Error) => {
              debug("publish failed, again:", err.message);
              throw err;
            }),
        60_000,
        500,
      );
      sent.push(...keys);
    };
    const allReceived = () =>
      eventually(async () => (sent.every((k) => received.has(k)) ? true : undefined), 90_000, 200).catch(
        async (err: Error) => {
          const admin = new Kafka({
            brokers: env.KAFKA_BROKERS!.split(","),
            logLevel: logLevel.NOTHING,
          }).admin();
          await admin.connect();
          const ends = await admin.fetchTopicOffsets(topic);
          const group = await admin.fetchOffsets({ groupId: "cluster-test", topics: [topic] });
          await admin.disconnect();
          throw new Error(
            `${err.message}; missing ${sent.filter((k) => !received.has(k)).join(",")}; log ends ${JSON.stringify(ends)}; group at ${JSON.stringify(group)}`,
          );
        },
      );
    try {
      await publish("before");
      await allReceived();

      // offsets.topic.num.partitions=1: the leader of __consumer_offsets/0 coordinates every group.
      const coordinator = must("leader", "__consumer_offsets", "0");
      must("kill", coordinator);
      debug("killed", coordinator);
      await publish("coordinator-gone");
      await allReceived();
      must("start", coordinator);

      const leader = must("leader", topic, "0");
      must("kill", leader);
      await publish("leader-gone");
      await allReceived();
      const next = await eventually(
        async () => {
          const now = infra("leader", topic, "0").stdout.trim();
          return now && now !== leader ? now : undefined;
        },
        30_000,
        500,
      );
      assert.match(next, /^kafka-[123]$/);
      must("start", leader);
      await publish("after");
      await allReceived();
    } finally {
      await sub.stop();
      await channel.disconnect();
    }
    assert.equal(sent.length, 120);
  });

  test("two Moleculer nodes keep talking when the caller's NATS server stops; pause shows as paused", async () => {
    const node = (id: string) =>
      new ServiceBroker({
        ...brokerOptions(
          loadConfig({ NATS_URL: env.NATS_URL, NODE_ID: id, NAMESPACE: "cluster-test", LOG_LEVEL: "fatal" }),
        ),
        logger: false,
      });
    const callee = node("callee");
    callee.createService({ name: "echo", actions: { who: () => callee.nodeID } });
    const caller = node("caller");
    try {
      await Promise.all([callee.start(), caller.start()]);
      await caller.waitForServices("echo", 20_000);
      assert.equal(await caller.call("echo.who"), "callee");
      // The server the caller is connected to (the client picked one of the list at random).
      const client = (caller.transit as unknown as { tx: { client: { getServer(): string } } }).tx.client;
      const port = Number(client.getServer().split(":").at(-1));
      const natsBase = Number(clusterEnv.INFRA_NATS_PORT);
      const server = `nats-${(port - natsBase) / 10 + 1}`;
      must("stop", server);
      const answer = await eventually(
        async () => caller.call("echo.who", {}, { timeout: 2000 }).catch(() => undefined),
        30_000,
        500,
      );
      assert.equal(answer, "callee");
      assert.notEqual(
        Number(client.getServer().split(":").at(-1)),
        port,
        "the caller moved to another server",
      );
      must("start", server);
    } finally {
      await Promise.allSettled([caller.stop(), callee.stop()]);
    }
    must("pause", "nats-2");
    assert.match(must("status"), /^nats-2 .* paused /m);
    must("resume", "nats-2");
    assert.match(must("status"), /^nats-2 .* up /m);
  });
});
