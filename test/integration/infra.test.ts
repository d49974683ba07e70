// The real servers of scripts/infra.sh, each through the client the service uses:
// Kafka (kafkajs: produce and consume on a fresh topic), FerretDB (the mongodb 3.x driver that
// moleculer-db-adapter-mongo resolves: the CRUD calls the adapter makes) and NATS (request/reply).
// Run: bash scripts/infra.sh up && source $INFRA_DIR/env && node --import tsx --test test/integration/infra.test.ts
// Without the env vars the suites skip with a reason; under CI=true that is a failure instead.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { test } from "node:test";
import { Kafka, logLevel } from "kafkajs";
import { connect, StringCodec } from "nats";

process.env.KAFKAJS_NO_PARTITIONER_WARNING = "1";

const REQUIRED = ["NATS_URL", "KAFKA_BROKERS", "MONGO_URL"] as const;
const missing = REQUIRED.filter((n) => !process.env[n]);
const reason = `needs ${missing.join(", ")}: run 'bash scripts/infra.sh up' and source $INFRA_DIR/env`;
const ci = process.env.CI === "true";
// Locally a missing server skips, with the reason; under CI=true it fails: a green CI run means the
// servers were really there.
const skip = missing.length > 0 && !ci ? reason : false;

function env(name: (typeof REQUIRED)[number]): string {
  const value = process.env[name];
  assert.ok(value, `${ci ? "CI=true and " : ""}${name} is not set (${reason})`);
  return value;
}

test("the servers' env vars are set", { skip }, () => {
  assert.deepEqual(missing, [], `${ci ? "CI=true and " : ""}${reason}`);
});

/** Rejects when the promise takes longer than ms (the message names what hung). */
async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

test("Kafka: kafkajs produces and consumes one message on a fresh topic", {
  skip: skip,
  timeout: 60_000,
}, async () => {
  const kafka = new Kafka({
    clientId: "infra-test",
    brokers: env("KAFKA_BROKERS").split(","),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    retry: { retries: 3 },
  });
  const topic = `infra-test.${randomUUID()}`;
  const admin = kafka.admin();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const consumer = kafka.consumer({
    groupId: `${topic}.group`,
    sessionTimeout: 10_000,
    heartbeatInterval: 1000,
  });
  try {
    await within(15_000, "admin.connect", admin.connect());
    const created = await within(
      15_000,
      "createTopics",
      admin.createTopics({
        topics: [{ topic, numPartitions: 1, replicationFactor: 1 }],
        waitForLeaders: true,
      }),
    );
    assert.equal(created, true, "the topic is new");

    const value = `hello ${randomUUID()}`;
    await within(15_000, "producer", producer.connect());
    await within(
      15_000,
      "send",
      producer.send({ topic, acks: -1, messages: [{ key: "k1", value, headers: { "x-test": "1" } }] }),
    );

    await within(15_000, "consumer.connect", consumer.connect());
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const received = new Promise<{ key: string; value: string; header: string }>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) =>
          resolve({
            key: message.key?.toString() ?? "",
            value: message.value?.toString() ?? "",
            header: message.headers?.["x-test"]?.toString() ?? "",
          }),
      });
    });
    assert.deepEqual(await within(30_000, "consume", received), { key: "k1", value, header: "1" });
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    await admin.deleteTopics({ topics: [topic], timeout: 10_000 }).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
});

// The subset of the mongodb 3.x driver's API used here (the driver ships no types).
interface Doc {
  _id?: unknown;
  [key: string]: unknown;
}
interface Cursor {
  sort(s: object): Cursor;
  skip(n: number): Cursor;
  limit(n: number): Cursor;
  toArray(): Promise<Doc[]>;
}
interface Collection {
  insertOne(doc: Doc): Promise<{ insertedId: unknown }>;
  insertMany(docs: Doc[]): Promise<{ insertedCount: number }>;
  findOne(q: object): Promise<Doc | null>;
  find(q: object): Cursor;
  countDocuments(q: object): Promise<number>;
  updateOne(q: object, u: object): Promise<{ matchedCount: number; modifiedCount: number }>;
  updateMany(q: object, u: object): Promise<{ modifiedCount: number }>;
  findOneAndUpdate(q: object, u: object, o: object): Promise<{ value: Doc | null }>;
  findOneAndDelete(q: object): Promise<{ value: Doc | null }>;
  deleteOne(q: object): Promise<{ deletedCount: number }>;
  deleteMany(q: object): Promise<{ deletedCount: number }>;
}
interface MongoClientLike {
  db(name?: string): {
    command(c: object): Promise<Doc>;
    collection(n: string): Collection;
    dropDatabase(): Promise<unknown>;
  };
  close(): Promise<void>;
}
interface Driver {
  MongoClient: { connect(url: string, options: object): Promise<MongoClientLike> };
}

test("FerretDB: the mongodb 3.x driver of moleculer-db-adapter-mongo inserts, finds, updates and deletes", {
  skip: skip,
  timeout: 60_000,
}, async () => {
  // The very copy of the driver the adapter loads.
  const adapterRequire = createRequire(require.resolve("moleculer-db-adapter-mongo"));
  const driverVersion = (adapterRequire("mongodb/package.json") as { version: string }).version;
  assert.match(driverVersion, /^3\./, "moleculer-db-adapter-mongo 0.5 runs on the 3.x driver");
  const { MongoClient } = adapterRequire("mongodb") as Driver;

  const url = new URL(env("MONGO_URL"));
  url.pathname = `/infra_test_${randomUUID().replaceAll("-", "")}`;
  const client = await within(
    15_000,
    "connect",
    MongoClient.connect(url.toString(), {
      useUnifiedTopology: true,
      serverSelectionTimeoutMS: 5000,
      socketTimeoutMS: 15_000,
    }),
  );
  const db = client.db();
  try {
    assert.equal((await within(5000, "ping", db.command({ ping: 1 }))).ok, 1);
    const orders = db.collection("orders");

    // insert (adapter: insert, insertMany)
    const one = await orders.insertOne({ _id: "o-1", status: "PENDING", total: 500, version: 1 });
    assert.equal(one.insertedId, "o-1");
    const many = await orders.insertMany([
      { _id: "o-2", status: "PENDING", total: 700, version: 1 },
      { _id: "o-3", status: "CONFIRMED", total: 900, version: 1 },
    ]);
    assert.equal(many.insertedCount, 2);
    await assert.rejects(orders.insertOne({ _id: "o-1" }), (err: { code?: number }) => err.code === 11000);

    // find (adapter: findById, find with sort/skip/limit, count)
    assert.equal((await orders.findOne({ _id: "o-2" }))?.total, 700);
    const page = await orders.find({ status: "PENDING" }).sort({ total: -1 }).skip(0).limit(1).toArray();
    assert.deepEqual(
      page.map((d) => d._id),
      ["o-2"],
    );
    assert.equal(await orders.countDocuments({ status: "PENDING" }), 2);

    // update (adapter: updateById = findOneAndUpdate, updateMany; the service's version guard)
    const guarded = await orders.updateOne(
      { _id: "o-1", version: 1 },
      { $set: { status: "CONFIRMED" }, $inc: { version: 1 } },
    );
    assert.deepEqual([guarded.matchedCount, guarded.modifiedCount], [1, 1]);
    const stale = await orders.updateOne({ _id: "o-1", version: 1 }, { $set: { status: "CANCELLED" } });
    assert.equal(stale.matchedCount, 0, "a write guarded by an old version matches nothing");
    const updated = await orders.findOneAndUpdate(
      { _id: "o-2" },
      { $set: { status: "CANCELLED" } },
      { returnDocument: "after" },
    );
    assert.equal(updated.value?.status, "CANCELLED");
    assert.equal(
      (await orders.updateMany({ status: "CONFIRMED" }, { $set: { paid: true } })).modifiedCount,
      2,
    );
    assert.deepEqual(await orders.findOne({ _id: "o-1" }), {
      _id: "o-1",
      status: "CONFIRMED",
      total: 500,
      version: 2,
      paid: true,
    });

    // delete (adapter: removeById = findOneAndDelete, removeMany, clear)
    assert.equal((await orders.findOneAndDelete({ _id: "o-3" })).value?._id, "o-3");
    assert.equal((await orders.deleteOne({ _id: "o-2" })).deletedCount, 1);
    assert.equal((await orders.deleteMany({})).deletedCount, 1);
    assert.equal(await orders.countDocuments({}), 0);
  } finally {
    await db.dropDatabase().catch(() => undefined);
    await client.close().catch(() => undefined);
  }
});

test("NATS: request/reply round trip", { skip: skip, timeout: 30_000 }, async () => {
  const sc = StringCodec();
  const server = await connect({ servers: env("NATS_URL"), timeout: 5000, name: "infra-test-server" });
  const client = await connect({ servers: env("NATS_URL"), timeout: 5000, name: "infra-test-client" });
  try {
    const subject = `infra.test.${randomUUID()}`;
    const sub = server.subscribe(subject, {
      max: 1,
      callback: (err, msg) => {
        if (!err) msg.respond(sc.encode(`pong:${sc.decode(msg.data)}`));
      },
    });
    await server.flush();
    const reply = await client.request(subject, sc.encode("ping"), { timeout: 5000 });
    assert.equal(sc.decode(reply.data), "pong:ping");
    assert.equal(sub.getProcessed(), 1);
  } finally {
    await client.close();
    await server.close();
  }
});
