// The ceilings the service is compared with, measured in the same run, with the same load tool
// (bench/load.ts) at the same concurrency: each is one operation of one component, on a machine
// it has to itself, so a ratio to it says how much of the machine the rest of the saga takes.
//   - raw node:http answering a JSON POST;
//   - moleculer-web: a GET of a constant, and a POST into moleculer-db's in-memory adapter;
//   - the same work as one order in the thinnest code (bench/thinnest.ts): the embedded limit;
//   - on the real servers: a Kafka produce→consume round trip through our KafkaChannel, and
//     FerretDB insert+update pairs through the Mongo adapter's driver, with small documents and
//     with the order documents the service writes; beside them, as context (not a ceiling), a
//     confirmed order's store operations alone.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Kafka, logLevel } from "kafkajs";
import { ServiceBroker } from "moleculer";
import DbService from "moleculer-db";
import ApiGateway from "moleculer-web";
import { MongoClient } from "mongodb";
import { applyChange, createOrder } from "../../domain/order";
import { decide } from "../../domain/place-order.saga";
import { KafkaChannel } from "../../lib/channel/kafka-channel";
import { systemSource } from "../../lib/clock";
import { type OrderRecord, outboxEntries, toDocument, toDocumentFields } from "../../lib/order-record";
import { getUrl, postJson, type Summary, sortedSummary } from "../load";
import type { Bench } from "../runner";
import { body } from "../saga";
import { thinnestOrders } from "../thinnest";

export async function rawHttpCeiling(bench: Bench): Promise<Summary> {
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const payload = JSON.stringify({ ok: true, id: "x".repeat(36) });
      res.writeHead(202, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(payload),
      });
      res.end(payload);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const result = await bench.closed("raw node:http POST", (agent, i) => postJson(agent, url, body(i)));
  server.close();
  return bench.record("ceiling: raw node:http JSON POST", result);
}

/**
 * The embedded mode's fair limit (bench/thinnest.ts): one order's steps in raw node:http, undici
 * and a Map, in this process. Its completed orders/s is what the embedded ratio divides by.
 */
export async function thinnestCeiling(bench: Bench): Promise<Summary> {
  const { concurrency, seconds } = bench.args;
  const { post, completionMs } = await thinnestOrders(concurrency, seconds * 1000);
  bench.record("ceiling: same work, thinnest code (node:http + undici + Map): POST", post);
  return bench.row(
    "ceiling: same work, thinnest code: completed orders",
    sortedSummary(completionMs, completionMs.length / (post.durationMs / 1000)),
  );
}

export async function gatewayCeilings(bench: Bench): Promise<{ get: Summary; post: Summary }> {
  const broker = new ServiceBroker({ logger: false, namespace: `bench-${process.pid}` });
  broker.createService({ name: "const", actions: { get: { handler: () => ({ ok: true }) } } });
  broker.createService({
    name: "items",
    mixins: [DbService as never],
    adapter: new DbService.MemoryAdapter(),
    actions: {
      add: {
        handler(ctx: { params: object }) {
          return (this as unknown as { adapter: { insert(d: unknown): Promise<unknown> } }).adapter.insert(
            ctx.params,
          );
        },
      },
    },
  } as never);
  broker.createService({
    name: "api",
    mixins: [ApiGateway as never],
    settings: {
      port: 0,
      ip: "127.0.0.1",
      routes: [
        {
          path: "/",
          mappingPolicy: "restrict",
          aliases: { "GET const": "const.get", "POST items": "items.add" },
        },
      ],
    },
  } as never);
  await broker.start();
  const port = (
    broker.getLocalService("api") as unknown as { server: { address(): AddressInfo } }
  ).server.address().port;
  const base = `http://127.0.0.1:${port}`;
  const get = bench.record(
    "ceiling: moleculer-web GET constant",
    await bench.closed("moleculer-web GET", (agent) => getUrl(agent, `${base}/const`)),
  );
  const post = bench.record(
    "ceiling: moleculer-web POST → moleculer-db memory",
    await bench.closed("moleculer-web POST+db", (agent, i) => postJson(agent, `${base}/items`, body(i))),
  );
  await broker.stop();
  return { get, post };
}

export async function kafkaCeiling(bench: Bench, brokers: string): Promise<Summary> {
  const kafka = new Kafka({ clientId: "bench", brokers: brokers.split(","), logLevel: logLevel.NOTHING });
  const topic = `bench.roundtrip.${Date.now()}`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [{ topic, numPartitions: 3, replicationFactor: 1 }],
    waitForLeaders: true,
  });
  const channel = new KafkaChannel({ brokers: brokers.split(","), clientId: "bench" });
  await channel.connect();
  const waiting = new Map<string, () => void>();
  const sub = await channel.subscribe(
    { groupId: `${topic}.g`, topics: [topic], fromBeginning: true },
    async (m) => {
      waiting.get(m.key)?.();
    },
  );
  const result = await bench.closed("kafka produce→consume", async (_agent, i) => {
    const key = `k-${i}`;
    const arrived = new Promise<void>((r) => waiting.set(key, r));
    await channel.publish(topic, [{ key, value: JSON.stringify(body(i)), headers: {} }]);
    await arrived;
    waiting.delete(key);
    return 200;
  });
  await sub.stop();
  await channel.disconnect();
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
  return bench.record("ceiling: Kafka produce→consume round trip (KafkaChannel)", result);
}

const BENCH_TRACE = {
  correlationId: "c-bench",
  traceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
};

/** Order i as the service writes it (with its OrderCreated in the outbox), for the store's ceilings. */
function benchOrder(i: number): OrderRecord {
  const { order, events } = createOrder(
    body(i),
    {
      orderId: `order-${i}`,
      userId: "bench-user",
      userVerified: true,
      correlationId: `c-${i}`,
      paymentTimeoutMs: 30_000,
    },
    systemSource(),
  );
  return { order: { ...order, publishedAt: order.createdAt }, outbox: outboxEntries(events, BENCH_TRACE) };
}

/** The fields an order's settling write sets (a passed deadline: CANCELLED), as the service computes them. */
function settledFields({ order, outbox }: OrderRecord) {
  const later = { ...systemSource(), now: new Date(Date.now() + 60_000) };
  const decision = decide(order, { type: "deadline" }, later);
  if (decision.kind !== "apply") throw new Error("unexpected decision");
  const { id: _id, version: _v, ...fields } = applyChange(order, decision.change, new Date());
  return toDocumentFields(fields, [...outbox, ...outboxEntries(decision.change.events, BENCH_TRACE)]);
}

export async function ferretCeiling(
  bench: Bench,
  mongoUrl: string,
): Promise<{ small: Summary; orders: Summary; lifecycle: Summary }> {
  const url = new URL(mongoUrl);
  url.pathname = `/bench_${Date.now()}`;
  const client = await MongoClient.connect(url.toString(), { useUnifiedTopology: true });
  const col = client.db().collection("pairs") as unknown as {
    insertOne(d: object): Promise<unknown>;
    updateOne(q: object, u: object): Promise<unknown>;
    findOne(q: object, o: object): Promise<unknown>;
  };
  const result = await bench.closed("FerretDB insert+update", async (_a, i) => {
    const id = `o-${i}`;
    await col.insertOne({ _id: id, version: 1, ...body(i) });
    // Filtered on _id alone, as the service writes: the one filter FerretDB's SQLite backend
    // answers from an index (docs/infra.md).
    await col.updateOne({ _id: id }, { $set: { version: 2, status: "CONFIRMED" } });
    return 200;
  });
  // The same pair with the documents the service writes (about 1 KB, nested arrays, the outbox as
  // a string: lib/order-record.ts): FerretDB's cost grows with the document, so this is the
  // store's ceiling for orders.
  const orders = client.db().collection("orders") as unknown as typeof col;
  const orderResult = await bench.closed("FerretDB order insert+update", async (_a, i) => {
    const record = benchOrder(i);
    await orders.insertOne(toDocument(record));
    await orders.updateOne({ _id: record.order.id }, { $set: settledFields(record) });
    return 200;
  });
  // Context, not a component ceiling: the five store operations a confirmed order costs the
  // service on FerretDB (order-store: insert; the version read and the write of the payment
  // result; the version read and the write of the last publication mark), alone on the machine.
  // The ratio to it says how much the rest of the saga takes beyond its store.
  const lifecycle = client.db().collection("lifecycle") as unknown as typeof col;
  const lifecycleResult = await bench.closed("FerretDB order lifecycle", async (_a, i) => {
    const record = benchOrder(i);
    const _id = record.order.id;
    const version = { projection: { _id: 0, version: 1 } };
    await lifecycle.insertOne(toDocument(record));
    await lifecycle.findOne({ _id }, version);
    await lifecycle.updateOne({ _id }, { $set: { ...settledFields(record), version: 2 } });
    await lifecycle.findOne({ _id }, version);
    await lifecycle.updateOne({ _id }, { $set: { ...toDocumentFields({}, []), version: 3 } });
    return 200;
  });
  await client.db().dropDatabase();
  await client.close();
  return {
    small: bench.record("ceiling: FerretDB insert+update pair (mongo adapter's driver)", result),
    orders: bench.record("ceiling: FerretDB insert+update pair, order documents", orderResult),
    lifecycle: bench.record(
      "context: FerretDB, a confirmed order's 4 store operations",
      lifecycleResult,
      "insert, version read, update, mark: what the service's store does per order",
    ),
  };
}
