// On real Kafka, through a node's payment consumer: a message that is not UTF-8, with a null key
// and a binary header, lands on the dead-letter topic byte for byte (key still null, headers
// unchanged, dlq-* added), and dlq-replay puts exactly those bytes back on payments.events.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type IHeaders, Kafka, type KafkaMessage, logLevel } from "kafkajs";
import { topicNames } from "../../lib/channel/types";
import { type EmbeddedNode, startEmbeddedNode } from "../helpers/embedded-node";
import { infraEnv, uniqueName } from "../helpers/env";
import { eventually } from "../helpers/http";

const env = infraEnv();
const skip = "skip" in env ? env.skip : false;

interface Seen {
  topic: string;
  partition: number;
  message: KafkaMessage;
}

describe("the DLQ keeps a message's bytes on real Kafka", { skip, timeout: 120_000 }, () => {
  const prefix = `${uniqueName("dlqbytes")}.`;
  const topics = topicNames(prefix);
  let kafka: Kafka;
  let node: EmbeddedNode;
  const seen: Seen[] = [];
  const stops: (() => Promise<void>)[] = [];

  before(async () => {
    if ("skip" in env) return;
    kafka = new Kafka({ clientId: prefix, brokers: env.kafkaBrokers.split(","), logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: topics.orderEvents, numPartitions: 1, replicationFactor: 1 },
        { topic: topics.paymentEvents, numPartitions: 3, replicationFactor: 1 },
        { topic: topics.paymentDeadLetters, numPartitions: 1, replicationFactor: 1 },
      ],
    });
    await admin.disconnect();
    const observer = kafka.consumer({ groupId: `${prefix}observer` });
    await observer.connect();
    await observer.subscribe({
      topics: [topics.paymentEvents, topics.paymentDeadLetters],
      fromBeginning: true,
    });
    await observer.run({
      eachMessage: async ({ topic, partition, message }) => void seen.push({ topic, partition, message }),
    });
    stops.push(() => observer.disconnect());
    node = await startEmbeddedNode({
      KAFKA_BROKERS: env.kafkaBrokers,
      KAFKA_TOPIC_PREFIX: prefix,
      KAFKA_CONSUMER_GROUP: `${prefix}order-service`,
    });
  });

  after(async () => {
    if ("skip" in env) return;
    await node?.stop();
    for (const stop of stops) await stop();
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
    await admin.disconnect();
  });

  test("value \\x00\\xff\\xfe garbage with a null key: to the DLQ and back with dlq-replay, byte for byte", async () => {
    const value = Buffer.concat([Buffer.from([0x00, 0xff, 0xfe]), Buffer.from(" garbage")]);
    const headers: IHeaders = {
      "event-type": Buffer.from("PaymentSucceeded"),
      "content-type": Buffer.from("application/json"),
      "correlation-id": Buffer.from("raw-bytes-1"),
      "x-binary": Buffer.from([0xc3, 0x28, 0x00, 0xff]),
    };
    const producer = kafka.producer();
    await producer.connect();
    stops.push(() => producer.disconnect());
    await producer.send({ topic: topics.paymentEvents, acks: -1, messages: [{ key: null, value, headers }] });

    const dlqAt = (n: number) =>
      eventually(async () => seen.filter((s) => s.topic === topics.paymentDeadLetters)[n], 60_000);
    const first = await dlqAt(0);
    assert.equal(first.message.key, null, "a null key stays null");
    assert.deepEqual(first.message.value, value, "the original bytes");
    const {
      "dlq-reason": reason,
      "dlq-source-topic": source,
      "dlq-source-partition": _p,
      "dlq-source-offset": _o,
      ...kept
    } = first.message.headers ?? {};
    assert.equal(String(reason), "invalid-utf8");
    assert.equal(String(source), topics.paymentEvents);
    assert.deepEqual(kept, headers, "the original headers, unchanged");
    assert.deepEqual(Object.keys(first.message.headers ?? {}), [
      ...Object.keys(headers),
      "dlq-reason",
      "dlq-source-topic",
      "dlq-source-partition",
      "dlq-source-offset",
    ]);

    const replay = await node.broker.call<{ key: string | null }, object>("kafka-bridge.dlqReplay", {
      partition: first.partition,
      offset: first.message.offset,
    });
    assert.equal(replay.key, null);
    const replayed = await eventually(
      async () => seen.filter((s) => s.topic === topics.paymentEvents)[1],
      60_000,
    );
    assert.equal(replayed.message.key, null);
    assert.deepEqual(replayed.message.value, value);
    assert.deepEqual(replayed.message.headers, headers, "exactly the original headers, no dlq-* left");

    // Refused again: a second dead letter, the same bytes.
    const second = await dlqAt(1);
    assert.equal(second.message.key, null);
    assert.deepEqual(second.message.value, value);
  });
});
