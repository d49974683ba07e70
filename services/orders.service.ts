// Reading orders: a client's own orders (owner-scoped), operator search, and the store-wide
// gauges. Writes belong to the order store (order-store.service.ts); this service only reads.
import type { Context, ServiceSchema } from "moleculer";
import { Errors } from "moleculer";
import { LIST_OWN_PARAMS, ORDER_ID_PARAMS } from "../contracts/order-queries";
import { ORDER_STATUSES, type OrderStatus, PAGE_LIMITS } from "../domain/limits";
import { toView } from "../domain/order";
import { businessMetrics } from "../lib/business-metrics";
import type { Config } from "../lib/config";
import { isLeader } from "../lib/order-owner";
import { fromDocument, type OrderRecord } from "../lib/order-record";
import { every, type Periodic, PHASE } from "../lib/periodic";
import { dbMixin, type OrderAdapter } from "../mixins/db.mixin";
import type { AuthenticatedMeta } from "../types/moleculer";

export interface OrdersSettings {
  pageSizeMax: number;
}

export interface GetOwnParams {
  id: string;
}
export interface ListOwnParams {
  page?: number;
  pageSize?: number;
  status?: OrderStatus;
}
export interface SearchParams {
  userId?: string;
  status?: OrderStatus;
  limit?: number;
  /** PENDING orders due before this time (ISO). */
  dueBefore?: string;
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

interface OrdersVars {
  adapter: OrderAdapter;
  gaugeTimer?: Periodic;
}
interface OrdersMethods {
  backlog(): Promise<OutboxBacklog>;
  countByStatus(): Promise<Record<OrderStatus, number>>;
  updateGauges(): Promise<void>;
}

type OrdersSchema = ServiceSchema<OrdersSettings, OrdersMethods & Record<string, never>, OrdersVars>;

const status = { type: "enum", values: [...ORDER_STATUSES], optional: true } as const;

export function ordersService(config: Config): OrdersSchema {
  return {
    name: "orders",
    // Reads only, and few (REST GETs, operators, one gauge scan a minute): a small pool.
    mixins: [dbMixin({ collection: "orders", mongoUrl: config.mongoUrl, poolSize: 2 })],
    settings: { pageSizeMax: PAGE_LIMITS.maxPageSize },

    actions: {
      getOwn: {
        auth: "required",
        params: ORDER_ID_PARAMS,
        async handler(ctx: Context<GetOwnParams, AuthenticatedMeta>) {
          const user = ctx.meta.user;
          // By _id alone (the one filter FerretDB's SQLite backend can use an index for), owner after.
          const found = fromDocument(await this.adapter.findOne({ _id: ctx.params.id }));
          // Another user's order answers exactly like a missing one, so ids cannot be probed.
          if (found?.order.userId !== user.id)
            throw new Errors.MoleculerClientError("Order not found", 404, "NOT_FOUND");
          return toView(found.order);
        },
      },

      listOwn: {
        auth: "required",
        params: LIST_OWN_PARAMS,
        async handler(ctx: Context<ListOwnParams, AuthenticatedMeta>) {
          const user = ctx.meta.user;
          const page = ctx.params.page ?? 1;
          const pageSize = Math.min(
            ctx.params.pageSize ?? PAGE_LIMITS.defaultPageSize,
            this.settings.pageSizeMax,
          );
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
            rows: rows.map((row) => toView(fromDocument(row).order)),
            page,
            pageSize,
            total,
            totalPages: Math.ceil(total / pageSize),
          };
        },
      },

      /** Operator search (REPL): filters are built here from checked fields, never passed through. */
      search: {
        visibility: "public",
        params: {
          userId: { type: "string", min: 1, max: 128, optional: true },
          status,
          limit: { type: "number", integer: true, min: 1, max: 500, optional: true, convert: true },
          dueBefore: { type: "string", optional: true },
          $$strict: true,
        },
        async handler(ctx: Context<SearchParams>): Promise<OrderRecord[]> {
          const query: Record<string, unknown> = {};
          if (ctx.params.userId) query.userId = ctx.params.userId;
          if (ctx.params.status) query.status = ctx.params.status;
          if (ctx.params.dueBefore) query.paymentDeadline = { $lt: ctx.params.dueBefore };
          const sort = ctx.params.status === "PENDING" ? ["paymentDeadline"] : ["-createdAt"];
          const docs = await this.adapter.find({ query, limit: ctx.params.limit ?? 20, sort });
          return docs.map((doc) => fromDocument(doc));
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

      countByStatus: {
        visibility: "public",
        handler(): Promise<Record<OrderStatus, number>> {
          return this.countByStatus();
        },
      },

      outboxBacklog: {
        visibility: "public",
        handler(): Promise<OutboxBacklog> {
          return this.backlog();
        },
      },

      storeFigures: {
        visibility: "public",
        async handler(): Promise<StoreFigures> {
          return { byStatus: await this.countByStatus(), backlog: await this.backlog() };
        },
      },
    },

    methods: {
      /**
       * One aggregation with a single accumulator: FerretDB 1.24 on SQLite returns 0 for the
       * second of two `$sum`s in a `$group`, which once left the backlog gauge at 0.
       */
      async countByStatus(): Promise<Record<OrderStatus, number>> {
        const byStatus = Object.fromEntries(ORDER_STATUSES.map((s) => [s, 0])) as Record<OrderStatus, number>;
        const collection = this.adapter.collection;
        if (!collection) {
          for (const s of ORDER_STATUSES) byStatus[s] = await this.adapter.count({ query: { status: s } });
          return byStatus;
        }
        const groups = await collection
          .aggregate<{ _id: OrderStatus; n: number }>([{ $group: { _id: "$status", n: { $sum: 1 } } }])
          .toArray();
        for (const g of groups) if (g._id in byStatus) byStatus[g._id] = g.n;
        return byStatus;
      },

      /** The outboxes still pending (few: marks follow within a second), projected to what counts. */
      async backlog(): Promise<OutboxBacklog> {
        const query = { outboxPending: { $gt: 0 } };
        const collection = this.adapter.collection;
        const pending = collection
          ? await collection
              .find<{ outbox: string; outboxPending: number }>(query, {
                projection: { _id: 0, outbox: 1, outboxPending: 1 },
                limit: 10_000,
              })
              .toArray()
          : await this.adapter.find({ query, limit: 10_000 });
        let oldest = Number.POSITIVE_INFINITY;
        for (const doc of pending) {
          for (const entry of JSON.parse(doc.outbox) as { event: { occurredAt: string } }[])
            oldest = Math.min(oldest, Date.parse(entry.event.occurredAt));
        }
        return {
          events: pending.reduce((n, doc) => n + doc.outboxPending, 0),
          orders: pending.length,
          oldestAgeSeconds: Number.isFinite(oldest) ? (Date.now() - oldest) / 1000 : 0,
        };
      },

      /** Store-wide gauges, from one node and not often: on FerretDB's SQLite backend each scan reads every order. */
      async updateGauges() {
        if (!isLeader(this.broker, "orders.countByStatus")) return;
        try {
          const { byStatus, backlog } = {
            byStatus: await this.countByStatus(),
            backlog: await this.backlog(),
          };
          const metrics = businessMetrics(this.broker);
          for (const [s, n] of Object.entries(byStatus)) metrics.ordersByStatus.set({ status: s }, n);
          metrics.outboxBacklog.set(backlog.events);
          metrics.outboxOldestAge.set(backlog.oldestAgeSeconds);
        } catch (err) {
          this.logger.warn({ error: (err as Error).message }, "store gauges not updated");
        }
      },
    },

    started() {
      if (!this.broker.isMetricsEnabled()) return;
      this.gaugeTimer = every(config.storeGaugeIntervalMs, PHASE.storeGauges, () => this.updateGauges());
      setTimeout(() => void this.updateGauges(), 1_000).unref();
    },

    stopped() {
      this.gaugeTimer?.stop();
    },
  };
}
