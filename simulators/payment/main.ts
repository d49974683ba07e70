// The payment simulator as its own process against real Kafka, with a small admin API:
// GET /ledger, GET /health, PUT /rules.
import { createServer } from "node:http";
import { KafkaChannel } from "../../lib/channel/kafka-channel";
import { topicNames } from "../../lib/channel/types";
import { createPaymentSimulator, type PaymentRules } from "./payment-simulator";
import { jaegerPaymentTracer } from "./tracing";

const list = (raw: string | undefined) =>
  (raw ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);

async function main(): Promise<void> {
  const brokers = (process.env.KAFKA_BROKERS ?? "").split(",").filter(Boolean);
  if (brokers.length === 0) throw new Error("KAFKA_BROKERS is required");
  const rules: PaymentRules = {
    failureRate: Number(process.env.PAYMENT_FAILURE_RATE ?? "0"),
    failCents: list(process.env.PAYMENT_FAIL_CENTS ?? "13"),
    noReplyCents: list(process.env.PAYMENT_NO_REPLY_CENTS),
    latencyMs: Number(process.env.PAYMENT_LATENCY_MS ?? "0"),
  };
  if (process.env.PAYMENT_LATENCY_MAX_MS) rules.latencyMaxMs = Number(process.env.PAYMENT_LATENCY_MAX_MS);
  if (process.env.PAYMENT_FAIL_AMOUNT_ABOVE)
    rules.failAmountAbove = Number(process.env.PAYMENT_FAIL_AMOUNT_ABOVE);
  const channel = new KafkaChannel({
    brokers,
    clientId: "payment-simulator",
    logger: (level, message, extra) => console.log(JSON.stringify({ level, message, extra })),
  });
  const simulator = createPaymentSimulator({
    channel,
    rules,
    topics: topicNames(process.env.KAFKA_TOPIC_PREFIX ?? ""),
    ledgerFile: process.env.PAYMENT_LEDGER_FILE,
    ...(process.env.JAEGER_ENDPOINT ? { tracer: jaegerPaymentTracer(process.env.JAEGER_ENDPOINT) } : {}),
    log: (message, extra) => console.log(JSON.stringify({ level: "warn", message, extra })),
  });
  await simulator.start();

  const admin = createServer(async (req, res) => {
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.method === "GET" && req.url === "/ledger") return json(200, simulator.ledger());
    if (req.method === "GET" && req.url === "/health")
      return json(200, { status: "UP", kafka: channel.health() });
    if (req.method === "PUT" && req.url === "/rules") {
      let raw = "";
      for await (const chunk of req) raw += chunk;
      try {
        simulator.setRules(JSON.parse(raw) as Partial<PaymentRules>);
        return json(200, { ok: true });
      } catch {
        return json(400, { error: "rules must be JSON" });
      }
    }
    json(404, { error: "not found" });
  });
  admin.listen(Number(process.env.PAYMENT_ADMIN_PORT ?? "4003"), process.env.SIM_HOST ?? "127.0.0.1");

  const stop = async () => {
    admin.close();
    await simulator.stop();
    await channel.disconnect();
    process.exit(0);
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

main().catch((err: Error) => {
  console.error(err);
  process.exit(1);
});
