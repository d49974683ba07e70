// Payment messages through the consumer of a whole node (in-process channel): a message whose
// headers are missing or contradict its payload is dead-lettered with its own reason and changes
// nothing; the DLQ keeps any message's bytes, null key and headers, and dlq-replay puts back
// exactly them.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { PlaceOrderParams } from "../../contracts/saga";
import { makeEvent } from "../../domain/events";
import { sharedMemoryChannel } from "../../lib/channel";
import { type RawRecord, type ReceivedMessage, Topics } from "../../lib/channel/types";
import { systemSource } from "../../lib/clock";
import { type EmbeddedNode, startEmbeddedNode } from "../helpers/embedded-node";
import { eventually } from "../helpers/http";

const GOOD_HEADERS = { "content-type": "application/json", "correlation-id": "c-1" };

describe("payment messages at the consumer", () => {
  let node: EmbeddedNode;
  const channel = sharedMemoryChannel();
  const place = (unitPrice: number) =>
    node.broker.call<{ id: string; total: number }, PlaceOrderParams>(
      "saga.placeOrder",
      { currency: "EUR", items: [{ productId: "sku-1", quantity: 1, unitPrice }] },
      { meta: { user: { id: "alice", roles: [] } } },
    );
  const status = async (id: string) =>
    (await node.broker.call<{ order: { status: string } }, object>("order-store.get", { id })).order.status;
  const deadLetterOf = (predicate: (m: ReceivedMessage) => boolean) =>
    eventually(async () => (await channel.readTopic(Topics.paymentDeadLetters, 10_000)).find(predicate));
  const sameBytes = (a: RawRecord, b: RawRecord) => {
    assert.deepEqual(a.key, b.key);
    assert.deepEqual(a.value, b.value);
    assert.deepEqual(a.headers, b.headers);
  };

  before(async () => {
    node = await startEmbeddedNode({ PAYMENT_TIMEOUT_MS: "60000", SAGA_SWEEP_INTERVAL_MS: "60000" });
    node.embedded.payment?.setRules({ noReplyCents: [77] });
  });
  after(async () => {
    await node?.stop();
  });

  test("missing or contradicting headers dead-letter with their own reason; the order waits for a good one", async () => {
    const { id } = await place(1077);
    const success = makeEvent(
      "PaymentSucceeded",
      id,
      { paymentId: "p-1", amount: 1077, currency: "EUR" },
      systemSource(),
    );
    const value = JSON.stringify(success);
    await channel.publish(Topics.paymentEvents, [{ key: id, value, headers: {} }]);
    await channel.publish(Topics.paymentEvents, [
      {
        key: id,
        value,
        headers: { ...GOOD_HEADERS, "event-type": "PaymentFailed", "content-type": "text/plain" },
      },
    ]);
    await channel.publish(Topics.paymentEvents, [
      { key: id, value, headers: { ...GOOD_HEADERS, "event-type": "PaymentFailed" } },
    ]);
    const reasons = await eventually(async () => {
      const mine = (await channel.readTopic(Topics.paymentDeadLetters, 10_000)).filter((m) => m.key === id);
      return mine.length === 3 ? mine.map((m) => m.headers["dlq-reason"]) : undefined;
    });
    assert.deepEqual(reasons, ["missing-header: event-type", "content-type-mismatch", "event-type-mismatch"]);
    assert.equal(await status(id), "PENDING", "no dead-lettered message changed the order");

    await channel.publish(Topics.paymentEvents, [
      { key: id, value, headers: { ...GOOD_HEADERS, "event-type": "PaymentSucceeded" } },
    ]);
    await eventually(async () => ((await status(id)) === "CONFIRMED" ? true : undefined));
  });

  test("the DLQ keeps bytes, a null key and headers; dlq-replay puts back exactly them", async () => {
    const original: RawRecord = {
      key: null,
      value: Buffer.from([0x00, 0xff, 0xfe, ...Buffer.from(" garbage")]),
      headers: [
        ["event-type", Buffer.from("PaymentSucceeded")],
        ["content-type", Buffer.from("application/json")],
        ["correlation-id", Buffer.from("c-raw")],
        ["x-binary", Buffer.from([0xc3, 0x28, 0x00])],
      ],
    };
    const seen: ReceivedMessage[] = [];
    const observer = await channel.subscribe(
      { groupId: "raw-observer", topics: [Topics.paymentEvents] },
      async (m) => {
        if (m.headers["correlation-id"] === "c-raw") seen.push(m);
      },
    );
    after(() => observer.stop());
    await channel.publish(Topics.paymentEvents, [{ raw: original }]);
    const first = await deadLetterOf((m) => m.headers["correlation-id"] === "c-raw");
    assert.equal(first.headers["dlq-reason"], "invalid-utf8");
    assert.equal(first.raw.key, null);
    sameBytes({ ...first.raw, headers: first.raw.headers.slice(0, 4) }, original);
    assert.deepEqual(
      first.raw.headers.slice(4).map(([name]) => name),
      ["dlq-reason", "dlq-source-topic", "dlq-source-partition", "dlq-source-offset"],
    );

    const listed = await node.broker.call<
      { partition: number; offset: string; key: string | null }[],
      object
    >("dead-letters.list", {});
    assert.equal(listed.find((m) => m.partition === first.partition && m.offset === first.offset)?.key, null);
    const replay = await node.broker.call<{ key: string | null }, object>("dead-letters.replay", {
      partition: first.partition,
      offset: first.offset,
    });
    assert.equal(replay.key, null);
    // The original and its replay, both seen on the payment topic.
    const replayed = await eventually(async () => (seen.length === 2 ? seen[1] : undefined));
    sameBytes(replayed.raw, original);
    // Refused again, it comes back to the DLQ the same.
    const second = await deadLetterOf(
      (m) =>
        m.headers["correlation-id"] === "c-raw" &&
        (m.partition !== first.partition || m.offset !== first.offset),
    );
    sameBytes({ ...second.raw, headers: second.raw.headers.slice(0, 4) }, original);
  });
});
