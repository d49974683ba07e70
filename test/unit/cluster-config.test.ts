// The settings that let a node ride a cluster: NATS_URL as a list of servers (validated, handed to
// Moleculer's NATS transporter with quick ping-based failover) and the Kafka send check that turns
// kafkajs's silently dropped partitions into a failed send.
import assert from "node:assert/strict";
import { test } from "node:test";
import { assertAllWritten } from "../../lib/channel/kafka-channel";
import { ConfigError, loadConfig } from "../../lib/config";
import { brokerOptions } from "../../moleculer.config";

test("NATS_URL takes a comma list of a cluster's servers and Moleculer gets all of them", () => {
  const config = loadConfig({
    NATS_URL: " nats://10.0.0.1:4222, nats://10.0.0.2:4222 ,nats://10.0.0.3:4222",
  });
  assert.equal(config.natsUrl, "nats://10.0.0.1:4222,nats://10.0.0.2:4222,nats://10.0.0.3:4222");
  const transporter = brokerOptions(config).transporter as { type: string; options: Record<string, unknown> };
  assert.equal(transporter.type, "NATS");
  assert.equal(transporter.options.url, config.natsUrl);
  assert.equal(transporter.options.maxReconnectAttempts, -1);
  assert.ok(
    (transporter.options.pingInterval as number) * (transporter.options.maxPingOut as number) < 6_000,
  );
});

test("a NATS_URL entry that is not a nats:// URL is refused with its value", () => {
  for (const bad of ["nats://a:4222,localhost:4222", "http://a:4222", "nats://"]) {
    assert.throws(
      () => loadConfig({ NATS_URL: bad }),
      (err: Error) => err instanceof ConfigError && /NATS_URL/.test(err.message),
    );
  }
});

test("a send whose answer lacks a partition the partitioner chose fails, naming it", () => {
  const chosen = new Set(["orders.events/0", "orders.events/2"]);
  assert.doesNotThrow(() =>
    assertAllWritten(chosen, [
      { topicName: "orders.events", partition: 0 },
      { topicName: "orders.events", partition: 2 },
    ]),
  );
  assert.throws(
    () => assertAllWritten(chosen, [{ topicName: "orders.events", partition: 2 }]),
    /did not acknowledge partitions orders\.events\/0/,
  );
});
