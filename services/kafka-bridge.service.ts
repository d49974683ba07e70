// The asynchronous edge. Relays outbox events to orders.events and turns payments.events into
// saga commands. A payment message's offset is committed only once the saga has durably applied
// it (the channel commits when the handler resolves); invalid messages go to the dead-letter topic.
import type { Context, ServiceSchema } from "moleculer";
import { Errors } from "moleculer";
import { parsePaymentEvent } from "../domain/event-schemas";
import { Headers } from "../domain/events";
import type { Order } from "../domain/order";
import { METRIC } from "../lib/business-metrics";
import { createChannel } from "../lib/channel";
import { type Channel, type ReceivedMessage, type Subscription, topicNames } from "../lib/channel/types";
import type { Config } from "../lib/config";
import { toOwner } from "../lib/order-owner";
import { parentSpanOf } from "../lib/trace";
import type { MarkPublishedParams, ScanParams } from "./orders.service";
import type { ApplyPaymentParams, PaymentOutcome } from "./saga.service";

export interface BridgeSettings {
  consumerGroup: string;
  relayIntervalMs: number;
  /** The sweep leaves fresh outbox entries to the fast path that placed them. */
  relayGraceMs: number;
}

interface BridgeVars {
  channel: Channel;
  subscription?: Subscription;
  relayTimer?: NodeJS.Timeout;
  /** Per-order chains, so one order's events leave in the order they were written. */
  relaying: Map<string, Promise<void>>;
  counters: { published: number; consumed: number; deadLettered: number; duplicates: number };
}

interface BridgeMethods {
  relayOrder(id: string): Promise<void>;
  publishOrder(id: string): Promise<void>;
  handlePayment(message: ReceivedMessage): Promise<void>;
  deadLetter(message: ReceivedMessage, reason: string): Promise<void>;
  relaySweep(): Promise<void>;
}

type BridgeSchema = ServiceSchema<BridgeSettings, BridgeMethods & Record<string, never>, BridgeVars>;

export interface RelayParams {
  id: string;
}

export function kafkaBridgeService(config: Config): BridgeSchema {
  const Topics = topicNames(config.kafkaTopicPrefix);
  return {
    name: "kafka-bridge",
    dependencies: ["orders"],
    settings: {
      consumerGroup: config.kafkaConsumerGroup,
      relayIntervalMs: config.sagaSweepIntervalMs,
      relayGraceMs: 2_000,
    },

    events: {
      "order.outbox": {
        handler(ctx: Context<RelayParams>) {
          void this.relayOrder(ctx.params.id);
        },
      },
    },

    actions: {
      status: {
        visibility: "public",
        async handler() {
          return {
            kind: this.channel.kind,
            health: this.channel.health(),
            counters: this.counters,
            lag: await this.channel
              .consumerLag(this.settings.consumerGroup, Topics.paymentEvents)
              .catch(() => -1),
          };
        },
      },
      dlqList: {
        visibility: "public",
        params: {
          limit: { type: "number", integer: true, min: 1, max: 1000, optional: true, convert: true },
        },
        async handler(ctx: Context<{ limit?: number }>) {
          const messages = await this.channel.readTopic(Topics.paymentDeadLetters, ctx.params.limit ?? 50);
          return messages.map((m) => ({
            partition: m.partition,
            offset: m.offset,
            key: m.key,
            reason: m.headers[Headers.deadLetterReason],
            source: `${m.headers[Headers.deadLetterSourceTopic]}/${m.headers[Headers.deadLetterSourcePartition]}@${m.headers[Headers.deadLetterSourceOffset]}`,
            value: m.value.length > 200 ? `${m.value.slice(0, 200)}…` : m.value,
          }));
        },
      },
      /** Puts a dead letter back on the payment topic, unchanged, to be validated again (after a fix). */
      dlqReplay: {
        visibility: "public",
        params: {
          partition: { type: "number", integer: true, min: 0, convert: true },
          offset: { type: "string", pattern: /^\d{1,19}$/ },
        },
        async handler(ctx: Context<{ partition: number; offset: string }>) {
          const messages = await this.channel.readTopic(Topics.paymentDeadLetters, 100_000);
          const found = messages.find(
            (m) => m.partition === ctx.params.partition && m.offset === ctx.params.offset,
          );
          if (!found) {
            throw new Errors.MoleculerClientError(
              "No dead letter at that partition and offset",
              404,
              "NOT_FOUND",
            );
          }
          const headers = Object.fromEntries(
            Object.entries(found.headers).filter(([k]) => !k.startsWith("dlq-")),
          );
          await this.channel.publish(Topics.paymentEvents, [{ key: found.key, value: found.value, headers }]);
          return { replayed: true, key: found.key, topic: Topics.paymentEvents };
        },
      },
      relayNow: {
        visibility: "public",
        async handler() {
          await this.relaySweep();
          return { ok: true };
        },
      },
    },

    methods: {
      relayOrder(id: string): Promise<void> {
        const previous = this.relaying.get(id) ?? Promise.resolve();
        const next = previous
          .then(() => this.publishOrder(id))
          .catch((err: Error) =>
            this.logger.warn(
              {
                orderId: id,
                error: err.message,
              },
              "outbox relay failed, the sweep will retry",
            ),
          )
          .finally(() => {
            if (this.relaying.get(id) === next) this.relaying.delete(id);
          });
        this.relaying.set(id, next);
        return next;
      },

      async publishOrder(id: string): Promise<void> {
        const order = await this.broker.call<Order | null, { id: string }>("orders.get", { id });
        if (!order || order.outbox.length === 0) return;
        await this.channel.publish(
          Topics.orderEvents,
          order.outbox.map((entry) => {
            const headers: Record<string, string> = {
              [Headers.correlationId]: entry.correlationId,
              [Headers.eventType]: entry.event.type,
              [Headers.contentType]: "application/json",
            };
            if (entry.traceParent) headers[Headers.traceParent] = entry.traceParent;
            return { key: order._id, value: JSON.stringify(entry.event), headers };
          }),
        );
        this.counters.published += order.outbox.length;
        for (const entry of order.outbox)
          this.broker.metrics.increment(METRIC.published, { type: entry.event.type });
        await this.broker.call<boolean, MarkPublishedParams>(
          "orders.markPublished",
          { order, eventIds: order.outbox.map((e) => e.event.eventId) },
          toOwner(this.broker, order._id),
        );
      },

      async relaySweep(): Promise<void> {
        const pending = await this.broker.call<Order[], ScanParams>("orders.withPendingOutbox", {
          limit: 200,
        });
        const cutoff = Date.now() - this.settings.relayGraceMs;
        await Promise.all(
          pending
            .filter((o) => !this.relaying.has(o._id) && Date.parse(o.updatedAt) < cutoff)
            .map((o) => this.relayOrder(o._id)),
        );
      },

      async handlePayment(message: ReceivedMessage): Promise<void> {
        const parsed = parsePaymentEvent(message.value, message.key);
        if (!parsed.ok) return this.deadLetter(message, parsed.reason);
        this.counters.consumed++;
        // A throw here (saga or store unavailable) leaves the offset uncommitted: redelivered later.
        const traceParent = message.headers[Headers.traceParent];
        const parentSpan = parentSpanOf(traceParent);
        // The message's span continues the order's trace (its parent came in the header), and
        // the saga's handling becomes its child.
        const span =
          parentSpan && this.broker.isTracingEnabled()
            ? this.broker.tracer.startSpan(`consume ${message.topic}`, {
                traceID: parentSpan.traceID,
                parentID: parentSpan.id,
                sampled: parentSpan.sampled,
                service: this.name,
                tags: {
                  orderId: parsed.event.orderId,
                  eventType: parsed.event.type,
                  partition: message.partition,
                  offset: message.offset,
                },
              })
            : undefined;
        const result = await this.broker
          .call<PaymentOutcome, ApplyPaymentParams>(
            "saga.applyPayment",
            { event: parsed.event, correlationId: message.headers[Headers.correlationId], traceParent },
            span
              ? { parentSpan: { traceID: span.traceID, id: span.id, sampled: span.sampled } }
              : parentSpan
                ? { parentSpan }
                : {},
          )
          .finally(() => span?.finish());
        if (result.outcome === "rejected") return this.deadLetter(message, result.why);
        if (result.outcome === "ignored") {
          this.counters.duplicates++;
          this.logger.info(
            {
              orderId: parsed.event.orderId,
              eventId: parsed.event.eventId,
              why: result.why,
            },
            "payment event ignored",
          );
        }
      },

      async deadLetter(message: ReceivedMessage, reason: string): Promise<void> {
        this.counters.deadLettered++;
        // The label keeps the reason's kind only: schema paths would explode the series count.
        this.broker.metrics.increment(METRIC.dlqMessages, { reason: reason.split(":")[0] ?? reason });
        this.logger.warn(
          {
            reason,
            partition: message.partition,
            offset: message.offset,
          },
          "payment message dead-lettered",
        );
        await this.channel.publish(Topics.paymentDeadLetters, [
          {
            key: message.key,
            value: message.value,
            headers: {
              ...message.headers,
              [Headers.deadLetterReason]: reason,
              [Headers.deadLetterSourceTopic]: message.topic,
              [Headers.deadLetterSourcePartition]: String(message.partition),
              [Headers.deadLetterSourceOffset]: message.offset,
            },
          },
        ]);
      },
    },

    created() {
      this.relaying = new Map();
      this.counters = { published: 0, consumed: 0, deadLettered: 0, duplicates: 0 };
      this.channel = createChannel({
        kafkaBrokers: config.kafkaBrokers,
        clientId: `order-service-${this.broker.nodeID}`,
        logger: (level: string, msg: string, extra?: unknown) => {
          const log = this.logger as unknown as Record<string, (...args: unknown[]) => void>;
          (log[level] ?? log.info)(extra ?? {}, msg);
        },
      });
    },

    async started() {
      await this.channel.connect();
      this.subscription = await this.channel.subscribe(
        { groupId: this.settings.consumerGroup, topics: [Topics.paymentEvents], fromBeginning: true },
        (message) => this.handlePayment(message),
      );
      this.relayTimer = setInterval(() => {
        this.relaySweep().catch((err: Error) =>
          this.logger.warn({ error: err.message }, "relay sweep failed"),
        );
        if (this.broker.isMetricsEnabled()) {
          this.channel
            .consumerLag(this.settings.consumerGroup, Topics.paymentEvents)
            .then((lag) => this.broker.metrics.set(METRIC.consumerLag, lag, { topic: Topics.paymentEvents }))
            .catch(() => undefined);
        }
      }, this.settings.relayIntervalMs);
      this.relayTimer.unref();
      // Resume: anything left unpublished by a previous run goes out now.
      this.relaySweep().catch(() => undefined);
    },

    async stopped() {
      if (this.relayTimer) clearInterval(this.relayTimer);
      await this.subscription?.stop();
      await Promise.allSettled([...this.relaying.values()]);
      await this.channel.disconnect();
    },
  };
}
