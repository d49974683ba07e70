// The outbox relay: puts the events written in orders' outboxes on `orders.events`, in the order
// they were written, at least once. It hears the order store on its own node (ORDER_WRITTEN:
// every write of an order happens on its owner node, so one relay sends each order's events),
// sends one batch at a time, and tells the store what Kafka took. A sweep by one node resends
// what a dead node or a long Kafka outage left behind.
import { LRUCache } from "lru-cache";
import type { Context, ServiceSchema } from "moleculer";
import {
  EVENTS_PUBLISHED,
  type MarkPublishedParams,
  ORDER_STORE,
  ORDER_WRITTEN,
  type OrderWrittenEvent,
  type ScanParams,
} from "../contracts/order-store";
import type { RelayParams, RelayStatus } from "../contracts/relay";
import { type Backoff, backoffDelay } from "../domain/backoff";
import { Headers } from "../domain/events";
import { businessMetrics } from "../lib/business-metrics";
import { acquireChannel, channelLogger, nodeChannel, releaseChannel } from "../lib/channel/shared";
import { type Channel, topicNames } from "../lib/channel/types";
import type { Config } from "../lib/config";
import { isLeader, ownerOf } from "../lib/order-owner";
import type { OrderRecord, OutboxEntry } from "../lib/order-record";
import { every, type Periodic, PHASE } from "../lib/periodic";

export interface RelaySettings {
  sweepIntervalMs: number;
  /** The sweep leaves fresh outbox entries to the fast path that wrote them. */
  graceMs: number;
  /** Orders waiting in memory at most; beyond, their events wait in their outboxes for a sweep. */
  queueMax: number;
}

interface RelayVars {
  channel: Channel;
  timer?: Periodic;
  /** Outbox events waiting for the next send; sends are one at a time, so order is kept. */
  queue: RelayParams[];
  inFlight?: Promise<void>;
  stopping: boolean;
  /** Orders were left to their outboxes while the queue was full: a catch-up sweep follows the drain. */
  overflowed: boolean;
  catchingUp: boolean;
  /** Resolved once the channel is connected; what was queued before goes out then. */
  ready: Promise<void>;
  markReady: () => void;
  isReady: boolean;
  /** Event ids this node put on Kafka lately, and those queued or being sent: none is sent twice. */
  published: LRUCache<string, true>;
  sending: Set<string>;
  count: number;
  onWritten: (event: OrderWrittenEvent) => void;
}

interface RelayMethods {
  relay(params: RelayParams): Promise<void>;
  sendBatches(): Promise<void>;
  sweep(force?: boolean): Promise<number>;
  catchUp(): Promise<void>;
}

type RelaySchema = ServiceSchema<RelaySettings, RelayMethods & Record<string, never>, RelayVars>;

/** Messages per send: large enough to carry a burst, small enough for one Kafka request. */
const BATCH_MAX = 500;
/** Orders one sweep resends. */
const SWEEP_LIMIT = 200;
const SEND_RETRY: Backoff = { baseMs: 200, maxMs: 5_000, jitter: false };

function toMessage(id: string, entry: OutboxEntry) {
  const headers: Record<string, string> = {
    [Headers.correlationId]: entry.correlationId,
    [Headers.eventType]: entry.event.type,
    [Headers.contentType]: "application/json",
  };
  if (entry.traceParent) headers[Headers.traceParent] = entry.traceParent;
  return { key: id, value: JSON.stringify(entry.event), headers };
}

export function outboxRelayService(config: Config): RelaySchema {
  const topics = topicNames(config.kafkaTopicPrefix);
  return {
    name: "outbox-relay",
    settings: { sweepIntervalMs: config.sagaSweepIntervalMs, graceMs: 2_000, queueMax: 5_000 },

    actions: {
      /** Operators' redrive: send these events (again). */
      relay: {
        visibility: "public",
        async handler(ctx: Context<RelayParams>): Promise<boolean> {
          await this.relay(ctx.params);
          return true;
        },
      },
      relayNow: {
        visibility: "public",
        async handler() {
          return { found: await this.sweep(true) };
        },
      },
      status: {
        visibility: "public",
        handler(): RelayStatus {
          return {
            kind: this.channel.kind,
            health: this.channel.health(),
            published: this.count,
            queued: this.queue.length,
          };
        },
      },
    },

    events: {
      // Its relay queue died with it: the leader resends what is still in outboxes.
      "$node.disconnected"() {
        setTimeout(() => void this.sweep().catch(() => undefined), this.settings.graceMs).unref();
      },
    },

    methods: {
      /** Resolves once the order's events are on Kafka (or, after a failure, queued for a retry). */
      relay(params: RelayParams): Promise<void> {
        const entries = params.entries.filter(
          (e) => !this.published.has(e.event.eventId) && !this.sending.has(e.event.eventId),
        );
        // Already queued: a payment answer often arrives before Kafka acknowledged the OrderCreated
        // it answers, and the write it causes hands that event over again.
        if (entries.length === 0) return this.inFlight ?? Promise.resolve();
        if (this.queue.length >= this.settings.queueMax) {
          // Kafka unreachable for a while: memory stays bounded, the events wait in their outboxes.
          this.overflowed = true;
          return Promise.resolve();
        }
        this.queue.push({ id: params.id, entries });
        for (const entry of entries) this.sending.add(entry.event.eventId);
        // Written while this relay is still connecting: sent once it is.
        if (!this.isReady) return this.ready.then(() => this.inFlight);
        this.inFlight ??= this.sendBatches();
        return this.inFlight;
      },

      /** One send at a time, each carrying everything queued meanwhile: per-order order is kept. */
      async sendBatches(): Promise<void> {
        // Orders written in the same tick leave together.
        await new Promise((resolve) => setImmediate(resolve));
        for (let failures = 0; ; ) {
          // Checked and cleared in one synchronous step: nothing queued can be left behind.
          if (this.queue.length === 0 || this.stopping) {
            this.inFlight = undefined;
            if (this.overflowed && !this.stopping && !this.catchingUp) void this.catchUp();
            return;
          }
          const batch: RelayParams[] = [];
          let size = 0;
          while (this.queue.length > 0 && size < BATCH_MAX) {
            const next = this.queue.shift()!;
            batch.push(next);
            size += next.entries.length;
          }
          try {
            await this.channel.publish(
              topics.orderEvents,
              batch.flatMap(({ id, entries }) => entries.map((entry) => toMessage(id, entry))),
            );
          } catch (err) {
            // Kept in order at the head of the queue and retried; the events are in their outboxes too.
            this.queue.unshift(...batch);
            this.logger.warn(
              { orders: batch.length, error: (err as Error).message, failures },
              "outbox relay failed, retrying",
            );
            await new Promise((resolve) => setTimeout(resolve, backoffDelay(SEND_RETRY, ++failures)));
            continue;
          }
          failures = 0;
          this.count += size;
          const publishedAt = new Date().toISOString();
          for (const { id, entries } of batch) {
            for (const entry of entries) {
              this.sending.delete(entry.event.eventId);
              this.published.set(entry.event.eventId, true);
              businessMetrics(this.broker).published.inc({ type: entry.event.type });
            }
            const mark: MarkPublishedParams = {
              id,
              eventIds: entries.map((e) => e.event.eventId),
              publishedAt,
            };
            const owner = ownerOf(this.broker, id);
            if (!owner || owner === this.broker.nodeID) {
              this.broker.localBus.emit(EVENTS_PUBLISHED, mark);
              continue;
            }
            this.broker
              .call<boolean, MarkPublishedParams>(`${ORDER_STORE}.markPublished`, mark, { nodeID: owner })
              .catch((err: Error) =>
                this.logger.warn(
                  { orderId: id, error: err.message },
                  "outbox mark not sent, the sweep will resend",
                ),
              );
          }
        }
      },

      /** Safety net for a relay that failed or a node that died: one node scans, after a grace. */
      async sweep(force = false): Promise<number> {
        if (!force && !isLeader(this.broker, "outbox-relay.relayNow")) return 0;
        // A scan, not a request: no request timeout (lib/periodic.ts spaces scans by their cost).
        const pending = await this.broker.call<OrderRecord[], ScanParams>(
          `${ORDER_STORE}.pendingOutboxes`,
          { limit: SWEEP_LIMIT },
          { timeout: 0 },
        );
        const cutoff = Date.now() - this.settings.graceMs;
        await Promise.all(
          pending
            .filter(({ order }) => Date.parse(order.updatedAt) < cutoff)
            .map(({ order, outbox }) => this.relay({ id: order.id, entries: outbox })),
        );
        return pending.length;
      },

      /** Sweeps until one finds less than a full page and fits in the queue. Bounded; the backstop does the rest. */
      async catchUp(): Promise<void> {
        this.catchingUp = true;
        try {
          for (let round = 0; round < 100 && !this.stopping; round++) {
            this.overflowed = false;
            const found = await this.sweep(true).catch(() => SWEEP_LIMIT);
            if (found < SWEEP_LIMIT && !this.overflowed) return;
            await new Promise((resolve) => setTimeout(resolve, this.settings.graceMs + 1_500));
          }
        } finally {
          this.catchingUp = false;
        }
      },
    },

    created() {
      this.queue = [];
      this.stopping = false;
      this.overflowed = false;
      this.catchingUp = false;
      this.isReady = false;
      this.ready = new Promise((resolve) => {
        this.markReady = resolve;
      });
      this.published = new LRUCache({ max: 20_000 });
      this.sending = new Set();
      this.count = 0;
      this.channel = nodeChannel(this.broker, config, channelLogger(this.logger as never));
      this.onWritten = ({ record, cause }) => {
        if (cause !== "mark" && record.outbox.length > 0)
          void this.relay({ id: record.order.id, entries: record.outbox });
      };
      this.broker.localBus.on(ORDER_WRITTEN, this.onWritten);
    },

    async started() {
      await acquireChannel(this.broker, config, channelLogger(this.logger as never));
      this.isReady = true;
      if (this.queue.length > 0) this.inFlight ??= this.sendBatches();
      this.markReady();
      this.timer = every(this.settings.sweepIntervalMs, PHASE.relaySweep, () =>
        this.sweep().catch((err: Error) => this.logger.warn({ error: err.message }, "relay sweep failed")),
      );
      // Resume: anything left unpublished by a previous run goes out now.
      this.sweep().catch(() => undefined);
    },

    async stopped() {
      this.broker.localBus.off(ORDER_WRITTEN, this.onWritten);
      this.timer?.stop();
      this.isReady = false;
      this.stopping = true;
      await this.inFlight?.catch(() => undefined);
      await releaseChannel(this.broker);
    },
  };
}
