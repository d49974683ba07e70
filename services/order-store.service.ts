// The order store: compare-and-set writes of order records, and a cache of the recent ones.
// Every write of an order is sent to its owner node (lib/order-owner.ts), which serializes them
// per order. After each write it raises ORDER_WRITTEN on its own node; the relay and the saga
// runtime beside it act on that. Internal to the broker: the gateway never publishes these.
import { LRUCache } from "lru-cache";
import type { Context, ServiceSchema } from "moleculer";
import {
  EVENTS_PUBLISHED,
  type GetParams,
  type InsertParams,
  type InsertResult,
  type MarkPublishedParams,
  ORDER_STORE,
  ORDER_WRITTEN,
  type OrderWrittenEvent,
  type ScanParams,
  type WriteParams,
  type WriteResult,
} from "../contracts/order-store";
import { applyChange } from "../domain/order";
import type { Config } from "../lib/config";
import { KeyedMutex } from "../lib/order-owner";
import {
  fromDocument,
  type OrderDocument,
  type OrderRecord,
  toDocument,
  toDocumentFields,
} from "../lib/order-record";
import { PublicationMarks } from "../lib/publication-marks";
import { dbMixin, type OrderAdapter } from "../mixins/db.mixin";

export interface StoreSettings {
  /**
   * Orders kept in memory for the next decision about them (a payment answer, a deadline). A
   * saga's steps are seconds apart, so a few thousand cover the orders in flight; each costs
   * kilobytes of heap (docs/infra.md).
   */
  recentCapacity: number;
  /** A publication mark waits this long for the order's next write before it is written alone. */
  markDelayMs: number;
}

/**
 * How a version-guarded write is made atomic on each store:
 * - "guarded": the store applies `{_id, version}` atomically (MongoDB's updateOne, NeDB's queue);
 * - "owner-checked": FerretDB. Its update is a query plus an unconditional write, and on SQLite
 *   only a filter on `_id` alone is pushed down. So the version is read here, under the per-order
 *   mutex of the order's owner node, and both the read and the write filter on `_id` alone.
 */
type WriteMode = "guarded" | "owner-checked";

interface StoreVars {
  adapter: OrderAdapter;
  writeMode: WriteMode;
  writes: KeyedMutex;
  recent: LRUCache<string, OrderRecord>;
  marks: PublicationMarks;
  stopping: boolean;
  onPublished: (mark: MarkPublishedParams) => void;
}

interface StoreMethods {
  casUpdate(id: string, version: number, fields: Partial<OrderDocument>): Promise<boolean>;
  readFresh(id: string): Promise<OrderRecord | null>;
  remember(record: OrderRecord): void;
  written(record: OrderRecord, cause: OrderWrittenEvent["cause"]): void;
  flushMarks(id: string): Promise<void>;
  scan(query: Record<string, unknown>, limit: number, sort?: string[]): Promise<OrderRecord[]>;
}

type StoreSchema = ServiceSchema<StoreSettings, StoreMethods & Record<string, never>, StoreVars>;

function isDuplicateKey(err: unknown): boolean {
  const e = err as { code?: number; errorType?: string } | null;
  return !!e && (e.code === 11000 || e.errorType === "uniqueViolated");
}

export function orderStoreService(config: Config): StoreSchema {
  const schema: StoreSchema = {
    name: ORDER_STORE,
    mixins: [dbMixin({ collection: "orders", mongoUrl: config.mongoUrl })],
    settings: { recentCapacity: 2_000, markDelayMs: 1_000 },

    actions: {
      insert: {
        visibility: "public",
        async handler(ctx: Context<InsertParams>): Promise<InsertResult> {
          const { record } = ctx.params;
          try {
            await this.adapter.insert(toDocument(record));
          } catch (err) {
            if (!isDuplicateKey(err)) throw err;
            const existing = await this.readFresh(record.order.id);
            if (!existing) throw err;
            return { created: false, existing };
          }
          this.written(record, "insert");
          return { created: true, record };
        },
      },

      get: {
        visibility: "public",
        async handler(ctx: Context<GetParams>): Promise<OrderRecord | null> {
          const cached = ctx.params.fresh ? undefined : this.recent.get(ctx.params.id);
          return cached ?? this.readFresh(ctx.params.id);
        },
      },

      write: {
        visibility: "public",
        async handler(ctx: Context<WriteParams>): Promise<WriteResult> {
          const { current, change, queued, at } = ctx.params;
          const id = current.order.id;
          const order = applyChange(current.order, change, new Date(at));
          const marked = this.marks.apply(id, [...current.outbox, ...queued]);
          if (
            marked.publishedAt &&
            !order.publishedAt &&
            marked.outbox.length < current.outbox.length + queued.length
          )
            order.publishedAt = marked.publishedAt;
          const { version: _next, ...fields } = order;
          if (!(await this.casUpdate(id, current.order.version, toDocumentFields(fields, marked.outbox)))) {
            return { written: false, current: await this.readFresh(id) };
          }
          this.marks.settle(id, marked.outbox);
          const record = { order, outbox: marked.outbox };
          this.written(record, "change");
          return { written: true, record };
        },
      },

      markPublished: {
        visibility: "public",
        async handler(ctx: Context<MarkPublishedParams>): Promise<boolean> {
          this.marks.add(ctx.params.id, ctx.params.eventIds, ctx.params.publishedAt);
          return true;
        },
      },

      /** Orders with events still waiting for the relay. */
      pendingOutboxes: {
        visibility: "public",
        handler(ctx: Context<ScanParams>): Promise<OrderRecord[]> {
          return this.scan({ outboxPending: { $gt: 0 } }, ctx.params.limit ?? 100);
        },
      },

      /** PENDING orders, soonest deadline first (optionally only those due before a time). */
      pending: {
        visibility: "public",
        handler(ctx: Context<ScanParams>): Promise<OrderRecord[]> {
          const query: Record<string, unknown> = { status: "PENDING" };
          if (ctx.params.dueBefore) query.paymentDeadline = { $lt: ctx.params.dueBefore };
          return this.scan(query, ctx.params.limit ?? 500, ["paymentDeadline"]);
        },
      },

      /** What the saga's backstop sweep resumes, in one scan: overdue pending orders and stock still held. */
      needingRecovery: {
        visibility: "public",
        handler(ctx: Context<ScanParams>): Promise<OrderRecord[]> {
          const dueBefore = ctx.params.dueBefore ?? new Date().toISOString();
          const query = {
            $or: [
              { status: "PENDING", paymentDeadline: { $lt: dueBefore } },
              { status: "CANCELLED", stockHeld: true },
            ],
          };
          return this.scan(query, ctx.params.limit ?? 400);
        },
      },
    },

    methods: {
      /** The compare-and-set every write goes through: the version read must still be current. */
      casUpdate(id: string, version: number, fields: Partial<OrderDocument>): Promise<boolean> {
        return this.writes.run(id, async () => {
          const update = { $set: { ...fields, version: version + 1 } };
          const collection = this.adapter.collection;
          if (this.writeMode === "owner-checked" && collection) {
            // Always the store's version, never this node's cache: while nodes come and go, two
            // of them may each believe they own an order for a moment. Only the version comes back.
            const stored = await collection.findOne<{ version: number }>(
              { _id: id },
              { projection: { _id: 0, version: 1 } },
            );
            if (stored?.version !== version) return false;
            return (await collection.updateOne({ _id: id }, update)).matchedCount === 1;
          }
          const query = { _id: id, version };
          if (collection) return (await collection.updateOne(query, update)).modifiedCount === 1;
          return (await this.adapter.updateMany(query, update)) === 1;
        });
      },

      async readFresh(id: string): Promise<OrderRecord | null> {
        const record = fromDocument(await this.adapter.findOne({ _id: id }));
        if (record) this.remember(record);
        else this.recent.delete(id);
        return record;
      },

      remember(record: OrderRecord) {
        const known = this.recent.get(record.order.id);
        if (!known || known.order.version <= record.order.version) this.recent.set(record.order.id, record);
      },

      written(record: OrderRecord, cause: OrderWrittenEvent["cause"]) {
        this.remember(record);
        this.broker.localBus.emit(ORDER_WRITTEN, { record, cause } satisfies OrderWrittenEvent);
      },

      /**
       * Writes the marks of one order alone. Marks that arrived while it ran get a flush of their
       * own; marks it could not write are dropped (their events stay in the outbox: the relay's
       * sweep sends them again and consumers drop the duplicates), so none is held for ever.
       */
      async flushMarks(id: string): Promise<void> {
        let written = false;
        try {
          for (let attempt = 0; attempt < 10 && !written && this.marks.has(id); attempt++) {
            const record = (attempt === 0 && this.recent.get(id)) || (await this.readFresh(id));
            if (!record) return;
            const marked = this.marks.apply(id, record.outbox);
            // None of the marked events is still in the outbox: another write took them out.
            if (marked.outbox.length === record.outbox.length) return;
            const order = { ...record.order };
            order.publishedAt ??= marked.publishedAt;
            const fields = toDocumentFields({ publishedAt: order.publishedAt }, marked.outbox);
            if (await this.casUpdate(id, record.order.version, fields)) {
              written = true;
              this.marks.settle(id, marked.outbox);
              order.version += 1;
              this.written({ order, outbox: marked.outbox }, "mark");
            }
          }
        } catch (err) {
          this.logger.warn(
            { orderId: id, error: (err as Error).message },
            "outbox mark failed, the relay sweep will republish",
          );
        } finally {
          this.marks.afterFlush(id, written && !this.stopping);
        }
      },

      async scan(query: Record<string, unknown>, limit: number, sort?: string[]): Promise<OrderRecord[]> {
        const docs = await this.adapter.find({ query, limit, ...(sort ? { sort } : {}) });
        return docs.map((doc) => fromDocument(doc));
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
      this.recent = new LRUCache({ max: this.settings.recentCapacity });
      this.marks = new PublicationMarks(this.settings.markDelayMs, (id) => void this.flushMarks(id));
      // The relay beside this store reports on the local bus: no broker call per published batch.
      this.onPublished = ({ id, eventIds, publishedAt }) => this.marks.add(id, eventIds, publishedAt);
      this.broker.localBus.on(EVENTS_PUBLISHED, this.onPublished);
      this.stopping = false;
      this.writeMode = "guarded";
    },

    async stopped() {
      this.broker.localBus.off(EVENTS_PUBLISHED, this.onPublished);
      // Marks still waiting are written now, so that a restart does not publish them again.
      this.stopping = true;
      this.marks.stopTimers();
      await Promise.allSettled(this.marks.ids().map((id) => this.flushMarks(id)));
    },
  };
  // moleculer-db calls this hook once the adapter is connected (not part of ServiceSchema's type).
  return Object.assign(schema, {
    async afterConnected(this: StoreVars) {
      if (!this.adapter.collection) return;
      const info = await this.adapter.db!.admin().command({ buildInfo: 1 });
      this.writeMode = "ferretdbVersion" in info ? "owner-checked" : "guarded";
      await Promise.all([
        this.adapter.collection.createIndex({ userId: 1, createdAt: -1 }),
        this.adapter.collection.createIndex({ status: 1, paymentDeadline: 1 }),
        this.adapter.collection.createIndex({ outboxPending: 1 }),
      ]);
    },
  });
}
