// The order store: owner-scoped reads and guarded, versioned writes. Business decisions live in
// domain/order.ts; this service only persists them. Every action is internal to the broker: the
// gateway publishes its own aliases, never these.
import type { Context, ServiceSchema } from "moleculer";
import { Errors } from "moleculer";
import {
  applyChange,
  type Change,
  type Order,
  type OrderStatus,
  type TraceContext,
  toView,
} from "../domain/order";
import { METRIC } from "../lib/business-metrics";
import type { Config } from "../lib/config";
import { KeyedMutex } from "../lib/order-owner";
import { dbMixin } from "../mixins/db.mixin";
import type { RequestMeta } from "../types/moleculer";

export interface OrdersSettings {
  pageSizeMax: number;
}

/** The subset of the moleculer-db adapter API this service relies on (same for NeDB and Mongo). */
interface OrderAdapter {
  insert(doc: Order): Promise<Order>;
  findOne(query: Record<string, unknown>): Promise<Order | null>;
  find(filters: {
    query?: Record<string, unknown>;
    limit?: number;
    offset?: number;
    sort?: string[];
  }): Promise<Order[]>;
  count(filters: { query?: Record<string, unknown> }): Promise<number>;
  updateMany(query: Record<string, unknown>, update: Record<string, unknown>): Promise<number>;
  collection?: {
    createIndex(spec: Record<string, number>, opts?: Record<string, unknown>): Promise<unknown>;
    updateOne(
      query: Record<string, unknown>,
      update: Record<string, unknown>,
    ): Promise<{ modifiedCount: number }>;
  };
}

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
  /** The order as the relay read it; re-read only when someone wrote in between. */
  order: Order;
  eventIds: string[];
}

export type InsertResult = { created: true; order: Order } | { created: false; existing: Order };
export type ApplyResult = { applied: true; order: Order } | { applied: false; current: Order | null };

interface OrdersVars {
  adapter: OrderAdapter;
  gaugeTimer?: NodeJS.Timeout;
}

const writes = new KeyedMutex();

/**
 * The compare-and-set every write goes through: matches the id at the version read, bumps it.
 * The per-order mutex makes check-and-write atomic on this node (FerretDB's update is not; see
 * lib/order-owner.ts); Mongo gets updateOne, NeDB updateMany.
 */
function casUpdate(
  adapter: OrderAdapter,
  id: string,
  version: number,
  fields: Partial<Order>,
): Promise<boolean> {
  return writes.run(id, async () => {
    const query = { _id: id, version };
    if (!(await adapter.findOne(query))) return false;
    const update = { $set: { ...fields, version: version + 1 } };
    if (adapter.collection) return (await adapter.collection.updateOne(query, update)).modifiedCount === 1;
    return (await adapter.updateMany(query, update)) === 1;
  });
}

type OrdersSchema = ServiceSchema<OrdersSettings, Record<string, never>, OrdersVars>;

function isDuplicateKey(err: unknown): boolean {
  const e = err as { code?: number; errorType?: string } | null;
  return !!e && (e.code === 11000 || e.errorType === "uniqueViolated");
}

export function ordersService(config: Config): OrdersSchema {
  const schema: OrdersSchema = {
    name: "orders",
    mixins: [dbMixin({ collection: "orders", mongoUrl: config.mongoUrl })],
    settings: { pageSizeMax: 100 },

    actions: {
      getOwn: {
        params: { id: { type: "string", min: 1, max: 64 }, $$strict: "remove" },
        async handler(ctx: Context<GetOwnParams, RequestMeta>) {
          const user = ctx.meta.user;
          if (!user) throw new Errors.MoleculerClientError("Authentication required", 401, "UNAUTHORIZED");
          const order = await this.adapter.findOne({ _id: ctx.params.id, userId: user.id });
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
          return { rows: rows.map(toView), page, pageSize, total, totalPages: Math.ceil(total / pageSize) };
        },
      },

      insertNew: {
        visibility: "public",
        async handler(ctx: Context<InsertParams>): Promise<InsertResult> {
          try {
            const order = await this.adapter.insert(ctx.params.order);
            return { created: true, order };
          } catch (err) {
            if (!isDuplicateKey(err)) throw err;
            const existing = await this.adapter.findOne({ _id: ctx.params.order._id });
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
          return this.adapter.findOne({ _id: ctx.params.id });
        },
      },

      applyChange: {
        visibility: "public",
        async handler(ctx: Context<ApplyChangeParams>): Promise<ApplyResult> {
          const { current, change, trace } = ctx.params;
          const next = applyChange(current, change, trace, new Date());
          const { _id, version: _bumped, ...fields } = next;
          if (!(await casUpdate(this.adapter, _id, current.version, fields))) {
            return { applied: false, current: await this.adapter.findOne({ _id }) };
          }
          return { applied: true, order: next };
        },
      },

      /** Orders with events still waiting for the relay. */
      withPendingOutbox: {
        visibility: "public",
        async handler(ctx: Context<ScanParams>): Promise<Order[]> {
          return this.adapter.find({ query: { outboxPending: { $gt: 0 } }, limit: ctx.params.limit ?? 100 });
        },
      },

      markPublished: {
        visibility: "public",
        async handler(ctx: Context<MarkPublishedParams>): Promise<boolean> {
          // Guarded by version like every write; on a race, re-read and drop what is published.
          let order: Order | null = ctx.params.order;
          for (let attempt = 0; attempt < 10; attempt++) {
            if (attempt > 0) order = await this.adapter.findOne({ _id: ctx.params.order._id });
            if (!order) return false;
            const published = new Set(ctx.params.eventIds);
            const outbox = order.outbox.filter((e) => !published.has(e.event.eventId));
            if (outbox.length === order.outbox.length) return true;
            if (
              await casUpdate(this.adapter, order._id, order.version, {
                outbox,
                outboxPending: outbox.length,
              })
            )
              return true;
          }
          return false;
        },
      },

      /** Pending orders (optionally only those past their payment deadline), for saga recovery. */
      inFlight: {
        visibility: "public",
        async handler(ctx: Context<ScanParams>): Promise<Order[]> {
          const query: Record<string, unknown> = { status: "PENDING" };
          if (ctx.params.dueBefore) query.paymentDeadline = { $lt: ctx.params.dueBefore };
          return this.adapter.find({ query, limit: ctx.params.limit ?? 500, sort: ["paymentDeadline"] });
        },
      },

      /** Cancelled orders whose stock release has not been confirmed yet. */
      awaitingRelease: {
        visibility: "public",
        async handler(ctx: Context<ScanParams>): Promise<Order[]> {
          return this.adapter.find({
            query: { status: "CANCELLED", stockHeld: true },
            limit: ctx.params.limit ?? 500,
          });
        },
      },

      markStockReleased: {
        visibility: "public",
        async handler(ctx: Context<GetParams>): Promise<boolean> {
          for (let attempt = 0; attempt < 10; attempt++) {
            const order = await this.adapter.findOne({ _id: ctx.params.id });
            if (!order?.stockHeld) return true;
            const fields = { stockHeld: false, updatedAt: new Date().toISOString() };
            if (await casUpdate(this.adapter, order._id, order.version, fields)) return true;
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
          return this.adapter.find({ query, limit: ctx.params.limit ?? 20, sort: ["-createdAt"] });
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
        async handler(): Promise<{ events: number; orders: number; oldestAgeSeconds: number }> {
          const pending = await this.adapter.find({ query: { outboxPending: { $gt: 0 } }, limit: 10_000 });
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
      },
    },

    started() {
      if (!this.broker.isMetricsEnabled()) return;
      // Store-wide gauges: every node reports the same values; dashboards take max().
      this.gaugeTimer = setInterval(async () => {
        try {
          const counts = await this.actions.countByStatus();
          for (const [status, n] of Object.entries(counts as Record<string, number>)) {
            this.broker.metrics.set(METRIC.ordersByStatus, n, { status });
          }
          const backlog = (await this.actions.outboxBacklog()) as {
            events: number;
            oldestAgeSeconds: number;
          };
          this.broker.metrics.set(METRIC.outboxBacklog, backlog.events);
          this.broker.metrics.set(METRIC.outboxOldestAge, backlog.oldestAgeSeconds);
        } catch (err) {
          this.logger.warn({ error: (err as Error).message }, "store gauges not updated");
        }
      }, 5_000);
      this.gaugeTimer.unref();
    },

    stopped() {
      if (this.gaugeTimer) clearInterval(this.gaugeTimer);
    },
  };
  // moleculer-db calls this hook once the adapter is connected (not part of ServiceSchema's type).
  return Object.assign(schema, {
    async afterConnected(this: OrdersVars) {
      if (!this.adapter.collection) return;
      await Promise.all([
        this.adapter.collection.createIndex({ userId: 1, createdAt: -1 }),
        this.adapter.collection.createIndex({ status: 1, paymentDeadline: 1 }),
        this.adapter.collection.createIndex({ outboxPending: 1 }),
      ]);
    },
  });
}
