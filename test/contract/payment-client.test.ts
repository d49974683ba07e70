// A payment service we did not write: Python on librdkafka (confluent-kafka), its messages built
// from docs/asyncapi.yaml alone and every message it reads and writes validated against it
// (test/contract/payment_service.py). Against a running node on real Kafka it answers orders,
// refunds a late capture, and sends the bad messages the document refuses; the verdicts come from
// outside: the orders' states over REST, the dead-letter topic's bytes, the client's own report.
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Consumer, IHeaders, KafkaMessage } from "kafkajs";
import { startInventoryService } from "../../simulators/http/inventory-service";
import { startUserService } from "../../simulators/http/user-service";
import { Cluster } from "../helpers/cluster";
import { infraEnv } from "../helpers/env";
import { call, eventually } from "../helpers/http";
import { token } from "../helpers/jwt";

const env = infraEnv();
const skip = "skip" in env ? env.skip : false;
const ROOT = join(__dirname, "..", "..");
const LOG_DIR = process.env.TEST_LOG_DIR ?? join("/tmp", "order-service-test-logs");

interface ReportLine {
  kind: "sent" | "read" | "error" | "kafka-error";
  case?: string;
  type?: string;
  orderId?: string;
  key?: string | null;
  value?: string | null;
  headers?: [string, string][];
  expectReason?: string | null;
  docViolations?: string[];
  violations?: string[];
  reason?: string;
  error?: string;
}

/** Headers as kafkajs reads them (a repeated name becomes an array, in order). */
function asKafkaHeaders(list: [string, string][]): IHeaders {
  const grouped = new Map<string, Buffer[]>();
  for (const [name, hex] of list) grouped.set(name, [...(grouped.get(name) ?? []), Buffer.from(hex, "hex")]);
  return Object.fromEntries([...grouped].map(([n, v]) => [n, v.length === 1 ? v[0] : v]));
}

const DLQ_NAMES = ["dlq-reason", "dlq-source-topic", "dlq-source-partition", "dlq-source-offset"];

/** A dead letter's headers less the dlq-* ones, against the original's: same names, same bytes. */
function sameHeaders(deadLetter: IHeaders, original: IHeaders): boolean {
  const kept = Object.keys(deadLetter).filter((n) => !DLQ_NAMES.includes(n));
  if (kept.join("\n") !== Object.keys(original).join("\n")) return false;
  try {
    for (const n of kept) assert.deepEqual(deadLetter[n], original[n]);
    return true;
  } catch {
    return false;
  }
}

describe("an external payment service on docs/asyncapi.yaml alone (Python, librdkafka)", {
  skip,
  timeout: 300_000,
}, () => {
  let cluster: Cluster;
  let python: ChildProcess | undefined;
  let observer: Consumer;
  const stops: (() => Promise<unknown>)[] = [];
  const deadLetters: KafkaMessage[] = [];
  let reportFile: string;
  const report = (): ReportLine[] =>
    readFileSync(reportFile, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as ReportLine);

  before(async () => {
    if ("skip" in env) return;
    // The project's script installs the pinned client into a venv under the cache (quick once built).
    const pythonBin = execFileSync(
      "bash",
      [join(ROOT, "scripts/python-venv.sh"), join(__dirname, "requirements.txt")],
      {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
      },
    ).trim();
    const user = await startUserService();
    const inventory = await startInventoryService();
    stops.push(
      () => user.stop(),
      () => inventory.stop(),
    );
    cluster = new Cluster({
      infra: env,
      userServiceUrl: user.url,
      inventoryServiceUrl: inventory.url,
      paymentTimeoutMs: 120_000,
    });
    await cluster.createTopics();
    stops.push(() => cluster.deleteTopics());

    observer = cluster.kafka().consumer({ groupId: `${cluster.id}-dlq-observer` });
    await observer.connect();
    await observer.subscribe({ topics: [cluster.topics.paymentDeadLetters], fromBeginning: true });
    await observer.run({ eachMessage: async ({ message }) => void deadLetters.push(message) });
    stops.push(() => observer.disconnect());

    mkdirSync(LOG_DIR, { recursive: true });
    reportFile = join(LOG_DIR, `${cluster.id}-python-report.jsonl`);
    writeFileSync(reportFile, "");
    const log = createWriteStream(join(LOG_DIR, `${cluster.id}-python.log`));
    python = spawn(pythonBin, [join(__dirname, "payment_service.py"), join(ROOT, "docs", "asyncapi.yaml")], {
      env: {
        PATH: process.env.PATH ?? "",
        KAFKA_BROKERS: env.kafkaBrokers,
        TOPIC_PREFIX: cluster.topicPrefix,
        GROUP_ID: `${cluster.id}-python-payment`,
        REPORT: reportFile,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    python.stderr?.pipe(log);
    const child = python;
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes("ready")) resolve();
      });
      child.once("exit", (code) =>
        reject(new Error(`python payment service exited ${code}, see ${LOG_DIR}`)),
      );
    });
    await cluster.startNode("a");
    stops.push(() => cluster.stop());
  });

  after(async () => {
    if ("skip" in env) return;
    if (python && python.exitCode === null) {
      const exited = new Promise((r) => python?.once("exit", r));
      python.kill("SIGTERM");
      await exited;
    }
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  });

  test("answers from the document alone; the bad messages it sends are dead-lettered byte for byte with the document's reasons", async () => {
    const node = cluster.nodes.get("a")!;
    const tok = await token("py-client");
    const place = async (unitPrice: number) => {
      const res = await call<{ id: string; status: string }>(node.url, "POST", "/api/v1/orders", {
        token: tok,
        body: { currency: "EUR", items: [{ productId: "sku-1", quantity: 1, unitPrice }] },
      });
      assert.equal(res.status, 202);
      return res.body.id;
    };
    const settled = (id: string) =>
      eventually(
        async () => {
          const res = await call<{ status: string; reason?: string }>(
            node.url,
            "GET",
            `/api/v1/orders/${id}`,
            {
              token: tok,
            },
          );
          return res.body.status === "PENDING" ? undefined : res.body;
        },
        60_000,
        200,
      );

    // Cents choose the client's behaviour (payment_service.py): 13 declines, 21/22/23 send bad
    // messages first, 24 waits for the owner's cancel and then captures late.
    const ids = {
      paid: await place(1050),
      declined: await place(1013),
      badFailures: await place(1021),
      badSuccesses: await place(1022),
      badBytes: await place(1023),
      late: await place(1024),
    };
    const cancel = await call(node.url, "POST", `/api/v1/orders/${ids.late}/cancel`, { token: tok });
    assert.equal(cancel.status, 200);

    const states = Object.fromEntries(
      await Promise.all(Object.entries(ids).map(async ([name, id]) => [name, await settled(id)] as const)),
    );
    assert.deepEqual(
      Object.fromEntries(
        Object.entries(states).map(([n, o]) => [n, `${o.status}${o.reason ? ` ${o.reason}` : ""}`]),
      ),
      {
        paid: "CONFIRMED",
        declined: "CANCELLED payment-failed",
        badFailures: "CONFIRMED",
        badSuccesses: "CANCELLED payment-failed",
        badBytes: "CONFIRMED",
        late: "CANCELLED owner-cancelled",
      },
      "bad messages changed nothing; the good answer after them decided",
    );

    // The late capture was answered with RefundRequested, which the client refunded.
    await eventually(async () =>
      report().find((l) => l.kind === "sent" && l.case === "refund" && l.orderId === ids.late),
    );

    const bad = report().filter((l) => l.kind === "sent" && l.expectReason);
    assert.equal(bad.length, 9, "the client sent every bad case");
    await eventually(async () => (deadLetters.length >= bad.length ? true : undefined), 60_000);
    for (const sent of bad) {
      const expected = asKafkaHeaders(sent.headers!);
      const found = deadLetters.filter(
        (m) =>
          (m.key === null ? null : m.key.toString("hex")) === sent.key &&
          m.value?.toString("hex") === sent.value &&
          sameHeaders(m.headers ?? {}, expected),
      );
      assert.equal(found.length, 1, `${sent.case}: one dead letter with the same key, bytes and headers`);
      const { "dlq-reason": reason, ...rest } = found[0]!.headers ?? {};
      assert.equal(String(reason), sent.expectReason, `${sent.case}: the reason the document gives`);
      assert.deepEqual(
        Object.keys(rest).filter((n) => !DLQ_NAMES.includes(n)),
        Object.keys(expected),
        `${sent.case}: no header lost or added but dlq-*`,
      );
      for (const n of Object.keys(expected))
        assert.deepEqual(rest[n], expected[n], `${sent.case}: header ${n} unchanged`);
    }

    // The client read every dead letter too and found each valid under the document.
    await eventually(async () =>
      report().filter((l) => l.kind === "read" && l.type === "DeadLetter").length >= bad.length
        ? true
        : undefined,
    );
    const lines = report();
    assert.deepEqual(
      lines.filter((l) => l.kind === "error" || l.kind === "kafka-error"),
      [],
    );
    assert.deepEqual(
      lines.filter((l) => l.kind === "read" && (l.violations ?? []).length > 0),
      [],
      "every message the client read satisfies the document",
    );
    const good = lines.filter((l) => l.kind === "sent" && !l.expectReason);
    assert.ok(good.length >= 7, "answers for six orders and one refund");
    assert.deepEqual(
      good.filter((l) => (l.docViolations ?? []).length > 0),
      [],
      "every good message the client wrote satisfies the document",
    );
    assert.ok(
      bad.every((l) => (l.docViolations ?? []).length > 0),
      "the document itself refuses every bad message",
    );
    const read = lines.filter((l) => l.kind === "read" && l.orderId);
    for (const type of ["OrderCreated", "OrderConfirmed", "OrderCancelled", "RefundRequested"])
      assert.ok(
        read.some((l) => l.type === type),
        `the client read and validated a ${type}`,
      );
  });
});
