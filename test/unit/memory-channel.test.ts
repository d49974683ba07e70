// The in-memory channel hands every group the view Kafka's bytes would give: a message published
// as strings reads back as those strings when they are well-formed UTF-16, and as the decoding of
// their UTF-8 bytes when not (a lone surrogate becomes U+FFFD, as through Kafka).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MemoryChannel } from "../../lib/channel/memory-channel";
import type { OutgoingMessage, ReceivedMessage } from "../../lib/channel/types";

async function roundTrip(message: OutgoingMessage, groups = 2): Promise<ReceivedMessage[]> {
  const channel = new MemoryChannel();
  await channel.connect();
  const got: ReceivedMessage[] = [];
  const subs = await Promise.all(
    Array.from({ length: groups }, (_, g) =>
      channel.subscribe({ groupId: `g${g}`, topics: ["t"] }, async (m) => {
        got.push(m);
      }),
    ),
  );
  await channel.publish("t", [message]);
  for (let i = 0; i < 100 && got.length < groups; i++) await new Promise((r) => setImmediate(r));
  await Promise.all(subs.map((s) => s.stop()));
  return got;
}

describe("memory channel: the string view of a message", () => {
  test("well-formed strings come back as they were, in every group, bytes included", async () => {
    const message = { key: "order-1", value: '{"a":"é✓"}', headers: { "event-type": "OrderCreated" } };
    const got = await roundTrip(message);
    assert.equal(got.length, 2);
    for (const m of got) {
      assert.equal(m.key, message.key);
      assert.equal(m.value, message.value);
      assert.deepEqual({ ...m.headers }, message.headers);
      assert.equal(m.raw.value?.toString("utf8"), message.value);
    }
  });

  test("a lone surrogate reads as its UTF-8 bytes decode (U+FFFD), as through Kafka", async () => {
    const [m] = await roundTrip({ key: "k", value: "a\uD800b", headers: { h: "x\uDC00" } }, 1);
    assert.equal(m!.value, "a\uFFFDb");
    assert.equal(m!.headers.h, "x\uFFFD");
  });

  test("a header named __proto__ stays a header; the view a group gets cannot be changed under another", async () => {
    const headers = JSON.parse('{"__proto__":"p","event-type":"E"}') as Record<string, string>;
    const got = await roundTrip({ key: "k", value: "v", headers });
    for (const m of got) {
      assert.equal(Object.getOwnPropertyDescriptor(m.headers, "__proto__")?.value, "p");
      assert.throws(() => {
        (m.headers as Record<string, string>)["event-type"] = "changed";
      });
    }
  });

  test("someone's bytes stay their bytes (not UTF-8, a repeated header); the view decodes them", async () => {
    const raw = {
      key: Buffer.from("k"),
      value: Buffer.from([0xff, 0x41]),
      headers: [
        ["a", Buffer.from([0xc3])],
        ["a", Buffer.from("second")],
      ] as [string, Buffer][],
    };
    const [m] = await roundTrip({ raw }, 1);
    assert.deepEqual(m!.raw.value, raw.value);
    assert.deepEqual(
      m!.raw.headers.map(([n, v]) => [n, [...v]]),
      raw.headers.map(([n, v]) => [n, [...v]]),
    );
    assert.equal(m!.value, "\uFFFDA");
    assert.equal(m!.headers.a, "second");
  });
});
