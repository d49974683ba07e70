// The order store: owner-scoped reads and guarded, versioned writes. Business decisions live in
// domain/order.ts; this service only persists them. Every action is internal to the broker: the
// gateway publishes its own aliases, never these.
import type { Context, ServiceSchema } from "moleculer";
import { Errors } from "moleculer";
import {
  applyChange,
  type Change,
  isSettled,
  type Order,
  type OrderStatus,
  type OutboxEntry,
  type TraceContext,
  toView,
} from "../domain/order";
import { METRIC } from "../lib/business-metrics";
import type { Config } from "../lib/config";
import { isLeader, KeyedMutex } from "../lib/order-owner";
import { every, type Periodic, PHASE } from "../lib/periodic";
import { fromStored, orderFromStored, type Stored, toStored } from "../lib/stored-order";
import { dbMixin } from "../mixins/db.mixin";
import { type ClaimsHost, type WriteFenceMethods, writeFenceMixin } from "../mixins/write-fence.mixin";
import type { RequestMeta } from "../types/moleculer";

export interface OrdersSettings {
  pageSizeMax: number;
  /** A publication mark waits this long for the order's next write before it is written alone. */
  markDelayMs: number;
  /**
   * Orders kept in memory for the next decision about them (a payment answer, a deadline). A
   * saga's steps are seconds apart, so a few thousand cover the orders in flight; each costs
   * several kilobytes of heap (10 000 took the node's RSS from about 185 to 257 MB).
   */
  recentCapacity: number;
}

/** The subset of the moleculer-db adapter API this service relies on (same for NeDB and Mongo). */
interface OrderAdapter {
  insert(doc: Stored<Order>): Promise<Stored<Order>>;
  findOne(query: Record<string, unknown>): Promise<Stored<Order> | null>;
  find(filters: {
    query?: Record<string, unknown>;
    limit?: number;
    offset?: number;
    sort?: string[];
  }): Promise<Stored<Order>[]>;
  count(filters: { query?: Record<string, unknown> }): Promise<number>;
  updateMany(query: Record<string, unknown>, update: Record<string, unknown>): Promise<number>;
  db?: { admin(): { command(cmd: Record<string, unknown>): Promise<Record<string, unknown>> } };
  collection?: {
    createIndex(spec: Record<string, number>, opts?: Record<string, unknown>): Promise<unknown>;
    updateOne(
      query: Record<string, unknown>,
      update: Record<string, unknown>,
    ): Promise<{ matchedCount: number; modifiedCount: number }>;
    findOne<T>(
      query: Record<string, unknown>,
      opts: { projection: Record<string, 0 | 1> },
    ): Promise<T | null>;
    aggregate<T>(pipeline: Record<string, unknown>[]): { toArray(): Promise<T[]> };
    find<T>(
      query: Record<string, unknown>,
      opts: { projection: Record<string, 0 | 1>; limit: number },
    ): { toArray(): Promise<T[]> };
  };
}

/**
 * How a version-guarded write is made atomic on each store:
 * - "guarded": the store applies `{_id, version}` atomically (MongoDB's updateOne, NeDB's queue);
 * - "owner-checked": FerretDB. Its update is a query plus an unconditional write, and on SQLite
 *   only a filter on `_id` alone is pushed down (any other field scans the collection). So the
 *   version is checked here, under the per-order mutex of the order's owner node, and both the
 *   read and the write filter on `_id` alone.
 */
type WriteMode = "guarded" | "owner-checked";

export interface GetOwnParams {
  id: string;
}
export interface ListOwnParams {
  page?: number;
  pageSize?: number;
  status?: OrderStatus;
}
export interface InsertParams {
  order: Order;
}
export interface GetParams {
  id: string;
  /** Skip this node's cache of recently written orders (operators, retries after a lost race). */
  fresh?: boolean;
}
export interface ApplyChangeParams {
  /** The order as the caller read it: the write succeeds only if it is still at this version. */
  current: Order;
  change: Change;
  trace: TraceContext;
}
export interface ScanParams {
  limit?: number;
  /** ISO timestamp: pending orders whose deadline is before it. */
  dueBefore?: string;
}
export interface MarkPublishedParams {
  id: string;
  eventIds: string[];
}

/** What the relay gets after a write: the order's unpublished events, oldest first. */
export interface OutboxRelayParams {
  id: string;
  entries: OutboxEntry[];
}

export type InsertResult = { created: true; order: Order } | { created: false; existing: Order };
export type ApplyResult = { applied: true; order: Order } | { applied: false; current: Order | null };

interface OrdersVars {
  adapter: OrderAdapter;
  gaugeTimer?: Periodic;
  writeMode: WriteMode;
  writes: KeyedMutex;
  recent: RecentOrders;
  /** Published event ids per order, written with the order's next write or after markDelayMs. */
  pendingMarks: Map<string, { eventIds: Set<string>; timer: NodeJS.Timeout }>;
  stopping: boolean;
}

export interface OutboxBacklog {
  events: number;
  orders: number;
  oldestAgeSeconds: number;
}

export interface StoreFigures {
  byStatus: Record<OrderStatus, number>;
  backlog: OutboxBacklog;
}

interface OrdersMethods extends WriteFenceMethods {
  pendingOutboxes(): Promise<Pick<Order, "outbox" | "outboxPending">[]>;
  backlogOf(pending: Pick<Order, "outbox" | "outboxPending">[]): OutboxBacklog;
  casUpdate(id: string, version: number, fields: Partial<Order>): Promise<boolean>;
  emptySettledOutbox(id: string, version: number): Promise<boolean>;
  readFresh(id: string): Promise<Order | null>;
  findOrder(id: string): Promise<Order | null>;
  findOrders(filters: Parameters<OrderAdapter["find"]>[0]): Promise<Order[]>;
  relay(order: Order): void;
  flushMarks(id: string): Promise<void>;
  scheduleFlush(id: string): NodeJS.Timeout;
  withoutMarked(id: string, fields: Partial<Order>): Partial<Order>;
  settleMarks(id: string, written: Partial<Order>): void;
}

/**
 * The orders this node wrote or read last, newest last (a Map keeps insertion order). Decisions
 * may start from a cached copy: the guarded write checks the version against the store, and a
 * lost race reads fresh. Copies are never mutated.
 */
class RecentOrders {
  private readonly orders = new Map<string, Order>();
  constructor(private readonly capacity: number) {}
  get(id: string): Order | undefined {
    return this.orders.get(id);
  }
  set(order: Order): void {
    const known = this.orders.get(order._id);
    if (known && known.version > order.version) return;
    this.orders.delete(order._id);
    this.orders.set(order._id, order);
    if (this.orders.size > this.capacity) this.orders.delete(this.orders.keys().next().value as string);
  }
  forget(id: string): void {
    this.orders.delete(id);
  }
  clear(): void {
    this.orders.clear();
  }
}

type OrdersSchema = ServiceSchema<OrdersSettings, OrdersMethods & Record<string, never>, OrdersVars>;

function isDuplicateKey(err: unknown): boolean {
  const e = err as { code?: number; errorType?: string } | null;
  return !!e && (e.code === 11000 || e.errorType === "uniqueViolated");
}

export function ordersService(config: Config): OrdersSchema {
  const schema: OrdersSchema = {
    name: "orders",
    mixins: [dbMixin({ collection: "orders", mongoUrl: config.mongoUrl }), writeFenceMixin(config)],
    settings: { pageSizeMax: 100, markDelayMs: 1_000, recentCapacity: 2_000 },

    actions: {
      getOwn: {
        params: { id: { type: "string", min: 1, max: 64 }, $$strict: "remove" },
        async handler(ctx: Context<GetOwnParams, RequestMeta>) {
          const user = ctx.meta.user;
          if (!user) throw new Errors.MoleculerClientError("Authentication required", 401, "UNAUTHORIZED");
          // By _id alone (the one filter FerretDB's SQLite backend can use an index for), owner after.
          const found = await this.findOrder(ctx.params.id);
          const order = found?.userId === user.id ? found : null;
          // Another user's order answers exactly like a missing one, so ids cannot be probed.
          if (!order) throw new Errors.MoleculerClientError("Order not found", 404, "NOT_FOUND");
          return toView(order);
        },
      },

      listOwn: {
        params: {
          page: { type: "number", integer: true, min: 1, max: 100_000, convert: true, optional: true },
          pageSize: { type: "number", integer: true, min: 1, max: 100, convert: true, optional: true },
          status: { type: "enum", values: ["PENDING", "CONFIRMED", "CANCELLED"], optional: true },
          $$strict: "remove",
        },
        async handler(ctx: Context<ListOwnParams, RequestMeta>) {
          const user = ctx.meta.user;
          if (!user) throw new Errors.MoleculerClientError("Authentication required", 401, "UNAUTHORIZED");
          const page = ctx.params.page ?? 1;
          const pageSize = Math.min(ctx.params.pageSize ?? 20, this.settings.pageSizeMax);
          // The filter is built here from the verified identity; nothing from the client reaches it raw.
          const query: Record<string, unknown> = { userId: user.id };
          if (ctx.params.status) query.status = ctx.params.status;
          const [rows, total] = await Promise.all([
            this.adapter.find({
              query,
              limit: pageSize,
              offset: (page - 1) * pageSize,
              sort: ["-createdAt", "_id"],
            }),
            this.adapter.count({ query }),
          ]);
          return {
            rows: rows.map((row) => toView(fromStored(row))),
            page,
            pageSize,
            total,
            totalPages: Math.ceil(total / pageSize),
          };
        },
      },

      insertNew: {
        visibility: "public",
        async handler(ctx: Context<InsertParams>): Promise<InsertResult> {
          try {
            await this.awaitCurrentView(); // fence: the insert is its own claim (unique _id)
            await this.adapter.insert(toStored(ctx.params.order));
            this.recent.set(ctx.params.order);
            this.relay(ctx.params.order);
            return { created: true, order: ctx.params.order };
          } catch (err) {
            if (!isDuplicateKey(err)) throw err;
            const existing = await this.findOrder(ctx.params.order._id);
            if (!existing) throw err;
            return { created: false, existing };
          }
        },
      },

      /** Readiness: one round trip to the store. */
      ping: {
        visibility: "public",
        async handler(): Promise<boolean> {
          await this.adapter.findOne({ _id: "__ping__" });
          return true;
        },
      },

      get: {
        visibility: "public",
        async handler(ctx: Context<GetParams>): Promise<Order | null> {
          if (!ctx.params.fresh) {
            const cached = this.recent.get(ctx.params.id);
            if (cached) return cached;
          }
          return this.readFresh(ctx.params.id);
        },
      },

      applyChange: {
        visibility: "public",
        async handler(ctx: Context<ApplyChangeParams>): Promise<ApplyResult> {
          const { current, change, trace } = ctx.params;
          const planned = applyChange(current, change, trace, new Date());
          const { _id, version: _bumped, ...fields } = planned;
          const written = this.withoutMarked(_id, fields);
          if (!(await this.casUpdate(_id, current.version, written))) {
            return { applied: false, current: await this.readFresh(_id) };
          }
          this.settleMarks(_id, written);
          const next = { ...planned, ...written };
          this.recent.set(next);
          this.relay(next);
          return { applied: true, order: next };
        },
      },

      /** Orders with events still waiting for the relay. */
      withPendingOutbox: {
        visibility: "public",
        async handler(ctx: Context<ScanParams>): Promise<Order[]> {
          return this.findOrders({ query: { outboxPending: { $gt: 0 } }, limit: ctx.params.limit ?? 100 });
        },
      },

      /**
       * The relay has the events on Kafka. Removing them from the outbox is one more write per
       * order, so the mark rides on the order's next write when one comes within markDelayMs
       * (a payment answer usually does) and is written alone otherwise. Until then a restarted
       * relay may publish them again: consumers drop duplicates by eventId.
       */
      markPublished: {
        visibility: "public",
        async handler(ctx: Context<MarkPublishedParams>): Promise<boolean> {
          const { id, eventIds } = ctx.params;
          const pending = this.pendingMarks.get(id);
          if (pending) {
            for (const eventId of eventIds) pending.eventIds.add(eventId);
            return true;
          }
          this.pendingMarks.set(id, { eventIds: new Set(eventIds), timer: this.scheduleFlush(id) });
          return true;
        },
      },

      /** Pending orders (optionally only those past their payment deadline), for saga recovery. */
      inFlight: {
        visibility: "public",
        async handler(ctx: Context<ScanParams>): Promise<Order[]> {
          const query: Record<string, unknown> = { status: "PENDING" };
          if (ctx.params.dueBefore) query.paymentDeadline = { $lt: ctx.params.dueBefore };
          return this.findOrders({ query, limit: ctx.params.limit ?? 500, sort: ["paymentDeadline"] });
        },
      },

      /** What the saga's recovery sweep resumes, in one scan: overdue pending orders and unreleased stock. */
      needingRecovery: {
        visibility: "public",
        async handler(ctx: Context<ScanParams>): Promise<Order[]> {
          return this.findOrders({
            query: {
              $or: [
                {
                  status: "PENDING",
                  paymentDeadline: { $lt: ctx.params.dueBefore ?? new Date().toISOString() },
                },
                { status: "CANCELLED", stockHeld: true },
              ],
            },
            limit: ctx.params.limit ?? 400,
          });
        },
      },

      /** Cancelled orders whose stock release has not been confirmed yet. */
      awaitingRelease: {
        visibility: "public",
        async handler(ctx: Context<ScanParams>): Promise<Order[]> {
          return this.findOrders({
            query: { status: "CANCELLED", stockHeld: true },
            limit: ctx.params.limit ?? 500,
          });
        },
      },

      markStockReleased: {
        visibility: "public",
        async handler(ctx: Context<GetParams>): Promise<boolean> {
          for (let attempt = 0; attempt < 10; attempt++) {
            const order =
              (attempt === 0 && this.recent.get(ctx.params.id)) || (await this.readFresh(ctx.params.id));
            if (!order?.stockHeld) return true;
            const fields = this.withoutMarked(order._id, {
              stockHeld: false,
              outbox: order.outbox,
              updatedAt: new Date().toISOString(),
            });
            if (await this.casUpdate(order._id, order.version, fields)) {
              this.settleMarks(order._id, fields);
              this.recent.set({ ...order, ...fields, version: order.version + 1 });
              return true;
            }
          }
          return false;
        },
      },

      /** Operator search (REPL): filters are built here from checked fields, never passed through. */
      search: {
        visibility: "public",
        params: {
          userId: { type: "string", min: 1, max: 128, optional: true },
          status: { type: "enum", values: ["PENDING", "CONFIRMED", "CANCELLED"], optional: true },
          limit: { type: "number", integer: true, min: 1, max: 500, optional: true, convert: true },
          $$strict: true,
        },
        async handler(
          ctx: Context<{ userId?: string; status?: OrderStatus; limit?: number }>,
        ): Promise<Order[]> {
          const query: Record<string, unknown> = {};
          if (ctx.params.userId) query.userId = ctx.params.userId;
          if (ctx.params.status) query.status = ctx.params.status;
          return this.findOrders({ query, limit: ctx.params.limit ?? 20, sort: ["-createdAt"] });
        },
      },

      countByStatus: {
        visibility: "public",
        async handler(): Promise<Record<OrderStatus, number>> {
          const [PENDING, CONFIRMED, CANCELLED] = await Promise.all(
            (["PENDING", "CONFIRMED", "CANCELLED"] as const).map((status) =>
              this.adapter.count({ query: { status } }),
            ),
          );
          return { PENDING, CONFIRMED, CANCELLED };
        },
      },

      outboxBacklog: {
        visibility: "public",
        async handler(): Promise<OutboxBacklog> {
          return this.backlogOf(await this.pendingOutboxes());
        },
      },

      /**
       * Everything the store-wide gauges show, in two scans: one aggregation for the counts by
       * status and the outbox total, then the outboxes still pending (few: marks follow within a
       * second). On FerretDB's SQLite backend every scan reads every order (docs/infra.md).
       */
      storeFigures: {
        visibility: "public",
        async handler(): Promise<StoreFigures> {
          const collection = this.adapter.collection;
          if (!collection) {
            return {
              byStatus: (await this.actions.countByStatus()) as Record<OrderStatus, number>,
              backlog: this.backlogOf(await this.pendingOutboxes()),
            };
          }
          const byStatus: Record<OrderStatus, number> = { PENDING: 0, CONFIRMED: 0, CANCELLED: 0 };
          const groups = await collection
            .aggregate<{ _id: OrderStatus; n: number; events: number }>([
              { $group: { _id: "$status", n: { $sum: 1 }, events: { $sum: "$outboxPending" } } },
            ])
            .toArray();
          for (const g of groups) if (g._id in byStatus) byStatus[g._id] = g.n;
          const events = groups.reduce((n, g) => n + g.events, 0);
          const backlog =
            events > 0
              ? this.backlogOf(await this.pendingOutboxes())
              : { events: 0, orders: 0, oldestAgeSeconds: 0 };
          return { byStatus, backlog };
        },
      },
    },

    methods: {
      /** The compare-and-set every write goes through: the version read must still be current. */
      casUpdate(id: string, version: number, fields: Partial<Order>): Promise<boolean> {
        return this.writes.run(id, async () => {
          const update = { $set: { ...toStored(fields), version: version + 1 } };
          const claim = await this.claimWrite(id, version + 1); // fence (mixins/write-fence.mixin.ts)
          if (!claim) return false;
          if (this.writeMode === "owner-checked") {
            // Always the store's version, never this node's cache: while nodes come and go, two
            // of them may each believe they own an order for a moment.
            // Only the version comes back: less BSON to encode, send and parse per write.
            const stored = await this.adapter.collection!.findOne<{ version: number }>(
              { _id: id },
              { projection: { _id: 0, version: 1 } },
            );
            if (stored?.version !== version || !this.mayWrite(claim)) return false;
            return (await this.adapter.collection!.updateOne({ _id: id }, update)).matchedCount === 1;
          }
          const query = { _id: id, version };
          if (this.adapter.collection)
            return (await this.adapter.collection.updateOne(query, update)).modifiedCount === 1;
          return (await this.adapter.updateMany(query, update)) === 1;
        });
      },

      /**
       * The last mark of a confirmed order: nothing but marks can follow confirmation (isSettled),
       * so emptying its outbox needs no version read, on any version. On FerretDB that read was
       * one of the five store operations of every order; elsewhere the guarded write is one anyway.
       */
      emptySettledOutbox(id: string, version: number): Promise<boolean> {
        if (this.writeMode !== "owner-checked")
          return this.casUpdate(id, version, { outbox: [], outboxPending: 0 });
        return this.writes.run(id, async () => {
          const update = { $set: toStored({ outbox: [], outboxPending: 0 }), $inc: { version: 1 } };
          // Not fenced: only marks follow confirmation, and two marks racing leave at worst an event
          // to publish again. Waits for a current view like every write (mixins/write-fence.mixin.ts).
          await this.awaitCurrentView();
          return (await this.adapter.collection!.updateOne({ _id: id }, update)).matchedCount === 1;
        });
      },

      async pendingOutboxes(): Promise<Pick<Order, "outbox" | "outboxPending">[]> {
        const query = { outboxPending: { $gt: 0 } };
        if (!this.adapter.collection) return this.findOrders({ query, limit: 10_000 });
        const found = await this.adapter.collection
          .find<Stored<Pick<Order, "outbox" | "outboxPending">>>(query, {
            projection: { _id: 0, outbox: 1, outboxPending: 1 },
            limit: 10_000,
          })
          .toArray();
        return found.map((doc) => fromStored(doc));
      },

      backlogOf(pending: Pick<Order, "outbox" | "outboxPending">[]): OutboxBacklog {
        const oldest = pending.reduce(
          (min, o) => Math.min(min, ...o.outbox.map((e) => Date.parse(e.event.occurredAt))),
          Number.POSITIVE_INFINITY,
        );
        return {
          events: pending.reduce((n, o) => n + o.outboxPending, 0),
          orders: pending.length,
          oldestAgeSeconds: Number.isFinite(oldest) ? (Date.now() - oldest) / 1000 : 0,
        };
      },

      /** By _id alone: the one filter FerretDB's SQLite backend can use an index for. */
      async findOrder(id: string): Promise<Order | null> {
        return orderFromStored(await this.adapter.findOne({ _id: id }));
      },

      async findOrders(filters: Parameters<OrderAdapter["find"]>[0]): Promise<Order[]> {
        return (await this.adapter.find(filters)).map((doc) => fromStored(doc));
      },

      async readFresh(id: string): Promise<Order | null> {
        const order = await this.findOrder(id);
        if (order) this.recent.set(order);
        else this.recent.forget(id);
        return order;
      },

      /** Removes the events the relay has published from an outbox about to be written. */
      withoutMarked(id: string, fields: Partial<Order>): Partial<Order> {
        const marks = this.pendingMarks.get(id);
        if (!marks || !fields.outbox) return fields;
        const outbox = fields.outbox.filter((e) => !marks.eventIds.has(e.event.eventId));
        return { ...fields, outbox, outboxPending: outbox.length };
      },

      /** After a successful write: the marks it carried are done (a lost race keeps them). */
      settleMarks(id: string, written: Partial<Order>): void {
        const marks = this.pendingMarks.get(id);
        if (!marks || !written.outbox) return;
        const left = new Set(written.outbox.map((e) => e.event.eventId));
        for (const eventId of marks.eventIds) if (!left.has(eventId)) marks.eventIds.delete(eventId);
        if (marks.eventIds.size === 0) {
          clearTimeout(marks.timer);
          this.pendingMarks.delete(id);
        }
      },

      scheduleFlush(id: string): NodeJS.Timeout {
        const timer = setTimeout(() => {
          this.flushMarks(id).catch((err: Error) =>
            this.logger.warn(
              { orderId: id, error: err.message },
              "outbox mark failed, the relay sweep will republish",
            ),
          );
        }, this.settings.markDelayMs);
        timer.unref();
        return timer;
      },

      /**
       * Writes the marks of one order. Marks that arrived while it ran get a flush of their own;
       * marks it could not write are dropped (their events stay in the outbox: the relay sweep
       * sends them again and consumers drop the duplicates), so none is held for ever.
       */
      async flushMarks(id: string): Promise<void> {
        let written = false;
        try {
          for (let attempt = 0; attempt < 10 && !written && this.pendingMarks.has(id); attempt++) {
            const order = (attempt === 0 && this.recent.get(id)) || (await this.readFresh(id));
            const marks = this.pendingMarks.get(id);
            if (!order || !marks) return;
            const outbox = order.outbox.filter((e) => !marks.eventIds.has(e.event.eventId));
            // None of the marked events is still in the outbox: another write took them out.
            if (outbox.length === order.outbox.length) return;
            const done =
              outbox.length === 0 && isSettled(order)
                ? await this.emptySettledOutbox(id, order.version)
                : await this.casUpdate(id, order.version, { outbox, outboxPending: outbox.length });
            if (done) {
              written = true;
              this.settleMarks(id, { outbox });
              this.recent.set({ ...order, outbox, outboxPending: outbox.length, version: order.version + 1 });
            }
          }
        } finally {
          const left = this.pendingMarks.get(id);
          if (left) {
            clearTimeout(left.timer);
            if (written && left.eventIds.size > 0 && !this.stopping) left.timer = this.scheduleFlush(id);
            else this.pendingMarks.delete(id);
          }
        }
      },

      /**
       * Hands the order's unpublished events to the relay on this node, so that one order's events
       * leave in the order they were written (every write of an order happens on its owner node).
       */
      relay(order: Order): void {
        if (order.outbox.length === 0) return;
        const payload: OutboxRelayParams = { id: order._id, entries: order.outbox };
        const local = this.broker.getLocalService("kafka-bridge") as unknown as
          | { relayOrder(params: OutboxRelayParams): Promise<void> }
          | undefined;
        // This node's relay takes them even while it is still starting, so one order's events
        // leave in the order they were written (every write of an order happens on its owner).
        if (local) {
          local.relayOrder(payload).catch(() => undefined);
          return;
        }
        this.broker.call("kafka-bridge.relay", payload).catch((err: Error) => {
          this.logger.warn(
            { orderId: order._id, error: err.message },
            "outbox relay not reached, asking for a relay sweep",
          );
          setTimeout(() => {
            this.broker.call("kafka-bridge.relayNow").catch(() => undefined);
          }, 2_000).unref();
        });
      },
    },

    events: {
      // Ownership of orders moves when nodes come or go: what this node knew may be stale now.
      "$node.connected"() {
        this.recent.clear();
      },
      "$node.disconnected"() {
        this.recent.clear();
      },
    },

    created() {
      this.writes = new KeyedMutex();
      this.recent = new RecentOrders(this.settings.recentCapacity);
      this.pendingMarks = new Map();
      this.stopping = false;
      this.writeMode = "guarded";
    },

    started() {
      if (!this.broker.isMetricsEnabled()) return;
      // Store-wide gauges, from one node and not often: on FerretDB's SQLite backend each of these
      // queries reads every order (about 0.1 ms each, docs/infra.md).
      const update = async () => {
        if (!isLeader(this.broker, "orders.countByStatus")) return;
        try {
          // A background scan, not a request: the request timeout would only stop the waiting here
          // (the store finishes the scan anyway); the schedule spaces the scans by their cost.
          const { byStatus, backlog } = (await this.actions.storeFigures({}, { timeout: 0 })) as StoreFigures;
          for (const [status, n] of Object.entries(byStatus)) {
            this.broker.metrics.set(METRIC.ordersByStatus, n, { status });
          }
          this.broker.metrics.set(METRIC.outboxBacklog, backlog.events);
          this.broker.metrics.set(METRIC.outboxOldestAge, backlog.oldestAgeSeconds);
        } catch (err) {
          this.logger.warn({ error: (err as Error).message }, "store gauges not updated");
        }
      };
      this.gaugeTimer = every(config.storeGaugeIntervalMs, PHASE.storeGauges, update);
      setTimeout(update, 1_000).unref();
    },

    async stopped() {
      this.gaugeTimer?.stop();
      // Marks still waiting are written now, so that a restart does not publish them again.
      this.stopping = true;
      const ids = [...this.pendingMarks.keys()];
      for (const { timer } of this.pendingMarks.values()) clearTimeout(timer);
      await Promise.allSettled(ids.map((id) => this.flushMarks(id)));
    },
  };
  // moleculer-db calls this hook once the adapter is connected (not part of ServiceSchema's type).
  return Object.assign(schema, {
    async afterConnected(this: OrdersVars) {
      if (!this.adapter.collection) return;
      const info = await this.adapter.db!.admin().command({ buildInfo: 1 });
      this.writeMode = "ferretdbVersion" in info ? "owner-checked" : "guarded";
      // Fenced where the guarded update is not atomic (FerretDB); MongoDB's is.
      (this as unknown as WriteFenceMethods).enableFence(
        this.writeMode === "owner-checked" ? (this.adapter as unknown as ClaimsHost) : undefined,
      );
      await Promise.all([
        this.adapter.collection.createIndex({ userId: 1, createdAt: -1 }),
        this.adapter.collection.createIndex({ status: 1, paymentDeadline: 1 }),
        this.adapter.collection.createIndex({ outboxPending: 1 }),
      ]);
    },
  });
}
