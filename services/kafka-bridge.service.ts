// The asynchronous edge. Relays outbox events to orders.events and turns payments.events into
// saga commands. A payment message's offset is committed only once the saga has durably applied
// it (the channel commits when the handler resolves); invalid messages go to the dead-letter topic.
import type { Context, ServiceSchema } from "moleculer";
import { Errors } from "moleculer";
import { parsePaymentEvent } from "../domain/event-schemas";
import { Headers } from "../domain/events";
import type { Order, OutboxEntry } from "../domain/order";
import { businessMetrics } from "../lib/business-metrics";
import { createChannel } from "../lib/channel";
import { type Channel, type ReceivedMessage, type Subscription, topicNames } from "../lib/channel/types";
import type { Config } from "../lib/config";
import { isLeader, toOwner } from "../lib/order-owner";
import { every, type Periodic, PHASE } from "../lib/periodic";
import { parentSpanOf } from "../lib/trace";
import type { MarkPublishedParams, OutboxRelayParams, ScanParams } from "./orders.service";
import type { ApplyPaymentParams, PaymentOutcome } from "./saga.service";

export interface BridgeSettings {
  consumerGroup: string;
  relayIntervalMs: number;
  /** The sweep leaves fresh outbox entries to the fast path that placed them. */
  relayGraceMs: number;
  /** Orders waiting in memory for the relay at most; beyond, their events wait in their outboxes. */
  relayQueueMax: number;
}

interface BridgeVars {
  channel: Channel;
  subscription?: Subscription;
  relayTimer?: Periodic;
  lagTimer?: NodeJS.Timeout;
  /** Outbox events waiting for the next send; sends are one at a time, so order is kept. */
  relayQueue: OutboxRelayParams[];
  relayInFlight?: Promise<void>;
  relayStopping: boolean;
  /** Orders were left to their outboxes while the queue was full: a catch-up sweep follows the drain. */
  relayOverflowed: boolean;
  catchingUp: boolean;
  /** Set once the channel is connected; what was queued before goes out then. */
  relayReady: boolean;
  relayStarted: Promise<void>;
  markRelayStarted: () => void;
  /** Event ids this node put on Kafka lately: an outbox not yet marked is not sent twice. */
  published: RecentIds;
  /** Event ids in the relay queue or in the send under way. */
  sending: Set<string>;
  counters: { published: number; consumed: number; deadLettered: number; duplicates: number };
}

interface BridgeMethods {
  relayOrder(params: OutboxRelayParams): Promise<void>;
  sendRelayBatch(): Promise<void>;
  handlePayment(message: ReceivedMessage): Promise<void>;
  deadLetter(message: ReceivedMessage, reason: string): Promise<void>;
  relaySweep(force?: boolean): Promise<number>;
  catchUpAfterOverflow(): Promise<void>;
}

type BridgeSchema = ServiceSchema<BridgeSettings, BridgeMethods & Record<string, never>, BridgeVars>;

/** A bounded set that forgets the oldest ids first. */
class RecentIds {
  private readonly ids = new Set<string>();
  constructor(private readonly capacity: number) {}
  has(id: string): boolean {
    return this.ids.has(id);
  }
  add(id: string): void {
    this.ids.add(id);
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.values().next().value as string);
  }
}

/** Messages per send: large enough to carry a burst, small enough for one Kafka request. */
const RELAY_BATCH_MAX = 500;
/** Orders one relay sweep republishes. */
const RELAY_SWEEP_LIMIT = 200;

function toMessage(id: string, entry: OutboxEntry) {
  const headers: Record<string, string> = {
    [Headers.correlationId]: entry.correlationId,
    [Headers.eventType]: entry.event.type,
    [Headers.contentType]: "application/json",
  };
  if (entry.traceParent) headers[Headers.traceParent] = entry.traceParent;
  return { key: id, value: JSON.stringify(entry.event), headers };
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
      relayQueueMax: 5_000,
    },

    events: {
      // Its relay queue died with it: the leader republishes what is still in outboxes.
      "$node.disconnected"() {
        setTimeout(() => {
          this.relaySweep().catch((err: Error) =>
            this.logger.warn({ error: err.message }, "relay sweep failed"),
          );
        }, this.settings.relayGraceMs).unref();
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
      /**
       * Another node's orders hand their events here when that node runs no relay. A call, not an
       * event: an event sent while the registries are still settling can reach nobody.
       */
      relay: {
        visibility: "public",
        async handler(ctx: Context<OutboxRelayParams>): Promise<boolean> {
          await this.relayOrder(ctx.params);
          return true;
        },
      },
      relayNow: {
        visibility: "public",
        async handler() {
          await this.relaySweep(true);
          return { ok: true };
        },
      },
    },

    methods: {
      /** Resolves once the order's events are on Kafka (or the send failed and was logged). */
      relayOrder(params: OutboxRelayParams): Promise<void> {
        const entries = params.entries.filter(
          (e) => !this.published.has(e.event.eventId) && !this.sending.has(e.event.eventId),
        );
        // Already queued here: a payment answer often arrives before Kafka has acknowledged the
        // OrderCreated it answers, and the write it causes hands that event over again.
        if (entries.length === 0) return this.relayInFlight ?? Promise.resolve();
        if (this.relayQueue.length >= this.settings.relayQueueMax) {
          // Kafka has been unreachable for a while: memory stays bounded, the events stay in
          // their outboxes, and a sweep sends them once the queue has drained.
          this.relayOverflowed = true;
          return Promise.resolve();
        }
        this.relayQueue.push({ id: params.id, entries });
        for (const entry of entries) this.sending.add(entry.event.eventId);
        // Accepted while starting (the orders service on this node writes before this relay is
        // connected); sent once started() kicks the queue.
        if (!this.relayReady) return this.relayStarted.then(() => this.relayInFlight);
        this.relayInFlight ??= this.sendRelayBatch();
        return this.relayInFlight;
      },

      /**
       * One send at a time, each carrying everything queued meanwhile: per-order order is kept,
       * and under load many orders share one Kafka request.
       */
      async sendRelayBatch(): Promise<void> {
        // Orders written in the same tick leave together.
        await new Promise((resolve) => setImmediate(resolve));
        for (let failures = 0; ; ) {
          // Checked and cleared in one synchronous step: nothing queued can be left behind.
          if (this.relayQueue.length === 0 || this.relayStopping) {
            this.relayInFlight = undefined;
            if (this.relayOverflowed && !this.relayStopping && !this.catchingUp) {
              this.relayOverflowed = false;
              void this.catchUpAfterOverflow();
            }
            return;
          }
          const batch: OutboxRelayParams[] = [];
          let size = 0;
          while (this.relayQueue.length > 0 && size < RELAY_BATCH_MAX) {
            const next = this.relayQueue.shift()!;
            batch.push(next);
            size += next.entries.length;
          }
          try {
            await this.channel.publish(
              Topics.orderEvents,
              batch.flatMap(({ id, entries }) => entries.map((entry) => toMessage(id, entry))),
            );
          } catch (err) {
            // Kept in order at the head of the queue and retried here; the events are in their
            // outboxes too, for a sweep after a restart.
            this.relayQueue.unshift(...batch);
            this.logger.warn(
              { orders: batch.length, error: (err as Error).message, failures },
              "outbox relay failed, retrying",
            );
            await new Promise((resolve) => setTimeout(resolve, Math.min(5_000, 200 * 2 ** failures++)));
            continue;
          }
          failures = 0;
          this.counters.published += size;
          for (const { id, entries } of batch) {
            for (const entry of entries) {
              this.sending.delete(entry.event.eventId);
              this.published.add(entry.event.eventId);
              businessMetrics(this.broker).published.inc({ type: entry.event.type });
            }
            this.broker
              .call<boolean, MarkPublishedParams>(
                "orders.markPublished",
                { id, eventIds: entries.map((e) => e.event.eventId) },
                toOwner(this.broker, id),
              )
              .catch((err: Error) =>
                this.logger.warn(
                  { orderId: id, error: err.message },
                  "outbox mark not sent, the sweep will republish",
                ),
              );
          }
        }
      },

      /**
       * Safety net for a relay that failed or a node that died: one node scans, after a grace.
       * Returns how many orders with pending events it found (at most RELAY_SWEEP_LIMIT).
       */
      async relaySweep(force = false): Promise<number> {
        if (!force && !isLeader(this.broker, "kafka-bridge.relayNow")) return 0;
        // A scan, not a request: no request timeout (lib/periodic.ts spaces scans by their cost).
        const pending = await this.broker.call<Order[], ScanParams>(
          "orders.withPendingOutbox",
          { limit: RELAY_SWEEP_LIMIT },
          { timeout: 0 },
        );
        const cutoff = Date.now() - this.settings.relayGraceMs;
        await Promise.all(
          pending
            .filter((o) => Date.parse(o.updatedAt) < cutoff)
            .map((o) => this.relayOrder({ id: o._id, entries: o.outbox })),
        );
        return pending.length;
      },

      /**
       * Sweeps until one finds less than a full page and fits in the queue: each page's marks land
       * within about a second, so the next sweep finds the following orders. Bounded; the
       * backstop does the rest.
       */
      async catchUpAfterOverflow(): Promise<void> {
        this.catchingUp = true;
        try {
          for (let round = 0; round < 100 && !this.relayStopping; round++) {
            this.relayOverflowed = false;
            const found = await this.relaySweep(true).catch(() => RELAY_SWEEP_LIMIT);
            // A full page, or a sweep that itself overflowed the queue: more are waiting.
            if (found < RELAY_SWEEP_LIMIT && !this.relayOverflowed) return;
            await new Promise((resolve) => setTimeout(resolve, this.settings.relayGraceMs + 1_500));
          }
        } finally {
          this.catchingUp = false;
        }
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
        businessMetrics(this.broker).dlqMessages.inc({ reason: reason.split(":")[0] ?? reason });
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
      this.relayQueue = [];
      this.relayStopping = false;
      this.relayOverflowed = false;
      this.catchingUp = false;
      this.relayReady = false;
      this.relayStarted = new Promise((resolve) => {
        this.markRelayStarted = resolve;
      });
      this.published = new RecentIds(20_000);
      this.sending = new Set();
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
      this.relayReady = true;
      if (this.relayQueue.length > 0) this.relayInFlight ??= this.sendRelayBatch();
      this.markRelayStarted();
      this.subscription = await this.channel.subscribe(
        { groupId: this.settings.consumerGroup, topics: [Topics.paymentEvents], fromBeginning: true },
        (message) => this.handlePayment(message),
      );
      this.relayTimer = every(this.settings.relayIntervalMs, PHASE.relaySweep, () =>
        this.relaySweep().catch((err: Error) =>
          this.logger.warn({ error: err.message }, "relay sweep failed"),
        ),
      );
      if (this.broker.isMetricsEnabled()) {
        this.lagTimer = setInterval(() => {
          this.channel
            .consumerLag(this.settings.consumerGroup, Topics.paymentEvents)
            .then((lag) => businessMetrics(this.broker).consumerLag.set({ topic: Topics.paymentEvents }, lag))
            .catch(() => undefined);
        }, 5_000);
        this.lagTimer.unref();
      }
      // Resume: anything left unpublished by a previous run goes out now.
      this.relaySweep().catch(() => undefined);
    },

    async stopped() {
      this.relayTimer?.stop();
      if (this.lagTimer) clearInterval(this.lagTimer);
      await this.subscription?.stop();
      this.relayReady = false;
      this.relayStopping = true;
      await this.relayInFlight?.catch(() => undefined);
      await this.channel.disconnect();
    },
  };
}
