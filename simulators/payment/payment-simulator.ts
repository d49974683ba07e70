// Plays the Payment service on the Kafka contract: consumes OrderCreated from orders.events,
// decides (deterministic rules for tests, a failure rate for demos), charges each order at most
// once, answers on payments.events with the incoming trace headers, and refunds on RefundRequested.

import { randomUUID } from "node:crypto";
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { Headers, makeEvent, type OrderEvent, type PaymentEvent } from "../../domain/events";
import type { Channel, ReceivedMessage, Subscription, TopicNames } from "../../lib/channel/types";
import { Topics } from "../../lib/channel/types";
import { systemSource } from "../../lib/clock";
import type { PaymentTracer } from "./tracing";

export interface PaymentRules {
  /** 0..1: random share of failures (demos). */
  failureRate: number;
  /** Totals (minor units) whose last two digits are listed fail — deterministic, for tests. */
  failCents?: number[];
  /** Totals above this fail. */
  failAmountAbove?: number;
  /** Totals whose last two digits are listed get no answer at all (the deadline fires). */
  noReplyCents?: number[];
  /** Answer after this long. */
  latencyMs: number;
  /** Totals whose cents are listed succeed, but only after delayMs (late success after cancel). */
  lateReply?: { cents: number[]; delayMs: number };
}

export interface LedgerEntry {
  orderId: string;
  decision: "succeeded" | "failed" | "no-reply";
  paymentId?: string;
  amount: number;
  currency: string;
  chargeCount: number;
  refunded: boolean;
  refundCount: number;
  decidedAt: string;
}

export interface PaymentSimulatorOptions {
  channel: Channel;
  rules: PaymentRules;
  topics?: TopicNames;
  groupId?: string;
  ledgerFile?: string;
  random?: () => number;
  /** Spans for the payment's work, joined to the order's trace (see tracing.ts). */
  tracer?: PaymentTracer;
  log?: (message: string, extra?: unknown) => void;
}

export interface PaymentSimulator {
  start(): Promise<void>;
  stop(): Promise<void>;
  ledger(): LedgerEntry[];
  setRules(rules: Partial<PaymentRules>): void;
}

export function createPaymentSimulator(options: PaymentSimulatorOptions): PaymentSimulator {
  const topics = options.topics ?? Topics;
  const random = options.random ?? Math.random;
  const ledger = new Map<string, LedgerEntry>();
  const timers = new Set<NodeJS.Timeout>();
  let rules = { ...options.rules };
  let subscription: Subscription | undefined;
  let stopped = false;

  if (options.ledgerFile && existsSync(options.ledgerFile)) {
    for (const line of readFileSync(options.ledgerFile, "utf8").split("\n")) {
      if (!line.trim()) continue;
      const entry = JSON.parse(line) as LedgerEntry;
      ledger.set(entry.orderId, entry);
    }
  }
  const persist = (entry: LedgerEntry) => {
    if (options.ledgerFile) appendFileSync(options.ledgerFile, `${JSON.stringify(entry)}\n`);
  };

  function decide(total: number): LedgerEntry["decision"] {
    const cents = total % 100;
    if (rules.noReplyCents?.includes(cents)) return "no-reply";
    if (rules.failCents?.includes(cents)) return "failed";
    if (rules.failAmountAbove !== undefined && total > rules.failAmountAbove) return "failed";
    if (rules.failureRate > 0 && random() < rules.failureRate) return "failed";
    return "succeeded";
  }

  function reply(entry: LedgerEntry, headers: Record<string, string>, delayMs: number): Promise<void> {
    if (entry.decision === "no-reply") return Promise.resolve();
    const event: PaymentEvent =
      entry.decision === "succeeded"
        ? makeEvent(
            "PaymentSucceeded",
            entry.orderId,
            {
              paymentId: entry.paymentId!,
              amount: entry.amount,
              currency: entry.currency,
            },
            systemSource(),
          )
        : makeEvent(
            "PaymentFailed",
            entry.orderId,
            {
              reason: "card declined (simulated)",
              amount: entry.amount,
              currency: entry.currency,
            },
            systemSource(),
          );
    return send(event, headers, delayMs);
  }

  /**
   * A decided payment is always answered: publishing is retried until it lands (a real payment
   * provider retries its callbacks too). An immediate answer is awaited by the handler, so the
   * order event's offset is only committed once the answer is out.
   */
  function send(event: PaymentEvent, incoming: Record<string, string>, delayMs: number): Promise<void> {
    const headers: Record<string, string> = {
      [Headers.eventType]: event.type,
      [Headers.contentType]: "application/json",
    };
    for (const h of [Headers.traceParent, Headers.correlationId]) {
      if (incoming[h]) headers[h] = incoming[h];
    }
    const publish = async (): Promise<void> => {
      for (let attempt = 1; !stopped; attempt++) {
        try {
          await options.channel.publish(topics.paymentEvents, [
            { key: event.orderId, value: JSON.stringify(event), headers },
          ]);
          return;
        } catch (err) {
          options.log?.("payment reply failed, retrying", {
            orderId: event.orderId,
            attempt,
            error: (err as Error).message,
          });
          await new Promise((r) => setTimeout(r, Math.min(5_000, 100 * 2 ** attempt)));
        }
      }
    };
    if (delayMs <= 0) return publish();
    const timer = setTimeout(() => {
      timers.delete(timer);
      void publish();
    }, delayMs);
    timers.add(timer);
    return Promise.resolve();
  }

  async function handle(message: ReceivedMessage): Promise<void> {
    let event: OrderEvent;
    try {
      event = JSON.parse(message.value) as OrderEvent;
    } catch {
      options.log?.("unparsable order event ignored", { offset: message.offset });
      return;
    }
    if (event?.type === "OrderCreated") {
      const existing = ledger.get(event.orderId);
      if (existing) {
        // A duplicate delivery: same answer again, no second charge.
        await reply(existing, message.headers, 0);
        return;
      }
      const { total, currency } = event.payload;
      const decision = decide(total);
      const entry: LedgerEntry = {
        orderId: event.orderId,
        decision,
        amount: total,
        currency,
        chargeCount: decision === "succeeded" ? 1 : 0,
        refunded: false,
        refundCount: 0,
        decidedAt: new Date().toISOString(),
      };
      if (decision === "succeeded") entry.paymentId = `pay-${randomUUID()}`;
      const span = options.tracer?.childOf(message.headers[Headers.traceParent], "payment.charge", {
        orderId: event.orderId,
        decision,
        amount: total,
      });
      ledger.set(event.orderId, entry);
      persist(entry);
      const headers = { ...message.headers };
      if (span?.traceParent) headers[Headers.traceParent] = span.traceParent;
      const late = rules.lateReply?.cents.includes(total % 100) ? rules.lateReply.delayMs : 0;
      try {
        if (late > 0 && decision === "succeeded") await reply(entry, headers, late);
        else await reply(entry, headers, rules.latencyMs);
      } finally {
        span?.finish();
      }
    } else if (event?.type === "RefundRequested") {
      const entry = ledger.get(event.orderId);
      if (entry?.decision !== "succeeded") return;
      if (!entry.refunded) {
        entry.refunded = true;
        entry.refundCount++;
        persist(entry);
      }
      await send(
        makeEvent(
          "PaymentRefunded",
          entry.orderId,
          { paymentId: entry.paymentId!, amount: entry.amount, currency: entry.currency },
          systemSource(),
        ),
        message.headers,
        rules.latencyMs,
      );
    }
  }

  return {
    async start() {
      stopped = false;
      await options.channel.connect();
      subscription = await options.channel.subscribe(
        {
          groupId: options.groupId ?? "payment-simulator",
          topics: [topics.orderEvents],
          fromBeginning: true,
        },
        handle,
      );
    },
    async stop() {
      stopped = true;
      await options.tracer?.close();
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await subscription?.stop();
    },
    ledger: () => [...ledger.values()].map((e) => ({ ...e })),
    setRules(next) {
      rules = { ...rules, ...next };
    },
  };
}
