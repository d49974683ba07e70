// moleculer-db store factory: MongoDB (FerretDB in tests) when a URL is configured, the built-in
// in-memory adapter otherwise. The generic CRUD actions that moleculer-db adds are switched off:
// they take raw Mongo queries and `$set` every param, so they must never be reachable.

import Datastore from "@seald-io/nedb";
import type { ServiceBroker, ServiceSchema } from "moleculer";
import DbService from "moleculer-db";
import MongoAdapter from "moleculer-db-adapter-mongo";
import type { OrderDocument } from "../lib/order-record";

export interface DbMixinOptions {
  collection: string;
  mongoUrl?: string;
  /** Connections of this service's pool (unless MONGO_URL sets maxPoolSize). */
  poolSize?: number;
}

/** The subset of the moleculer-db adapter API the order services rely on (same for NeDB and Mongo). */
export interface OrderAdapter {
  insert(doc: OrderDocument): Promise<OrderDocument>;
  findOne(query: Record<string, unknown>): Promise<OrderDocument | null>;
  find(filters: {
    query?: Record<string, unknown>;
    limit?: number;
    offset?: number;
    sort?: string[];
  }): Promise<OrderDocument[]>;
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
 * The in-memory store of one broker: the order store and the order queries run on the same node
 * (SERVICES=orders starts both) and must see the same documents.
 */
const memoryStores = new WeakMap<ServiceBroker, Map<string, Datastore>>();
function memoryStore(broker: ServiceBroker, collection: string): Datastore {
  const stores = memoryStores.get(broker) ?? new Map<string, Datastore>();
  memoryStores.set(broker, stores);
  const store = stores.get(collection) ?? new Datastore();
  stores.set(collection, store);
  return store;
}

interface NedbAsync {
  loadDatabaseAsync(): Promise<void>;
  insertAsync(doc: unknown): Promise<unknown>;
  findOneAsync(query: unknown): Promise<unknown>;
  countAsync(query: unknown): Promise<number>;
  removeAsync(query: unknown, options?: unknown): Promise<number>;
  ensureIndexAsync(options: unknown): Promise<void>;
  removeIndexAsync(field: string): Promise<void>;
  updateAsync(
    query: unknown,
    update: unknown,
    options?: unknown,
  ): Promise<{ numAffected: number; affectedDocuments: unknown }>;
}

/**
 * moleculer-db's in-memory adapter wraps NeDB's (promise-returning) methods with util.promisify,
 * which makes Node emit a DEP0174 warning on every single call: object creation and a stderr
 * write per store operation (about a tenth of the CPU in the benchmark's profile). Same adapter,
 * NeDB's own promise API.
 */
class NedbPromiseAdapter extends DbService.MemoryAdapter {
  constructor(private readonly collectionName: string) {
    super();
  }
  override connect(): Promise<void> {
    const self = this as unknown as { broker: ServiceBroker };
    const db = memoryStore(self.broker, this.collectionName) as unknown as NedbAsync &
      Record<string, unknown>;
    db.loadDatabase = () => db.loadDatabaseAsync();
    db.insert = (doc: unknown) => db.insertAsync(doc);
    db.findOne = (query: unknown) => db.findOneAsync(query);
    db.count = (query: unknown) => db.countAsync(query);
    db.remove = (query: unknown, options?: unknown) => db.removeAsync(query, options);
    db.ensureIndex = (options: unknown) => db.ensureIndexAsync(options);
    db.removeIndex = (field: string) => db.removeIndexAsync(field);
    db.update = async (query: unknown, update: unknown, options?: unknown) => {
      const res = await db.updateAsync(query, update, options);
      return [res.numAffected, res.affectedDocuments];
    };
    (this as unknown as { db: unknown }).db = db;
    return db.loadDatabaseAsync();
  }
}

const CRUD_ACTIONS = ["find", "count", "list", "create", "insert", "get", "update", "remove"] as const;

export function dbMixin(options: DbMixinOptions): Partial<ServiceSchema> {
  const disabled = Object.fromEntries(CRUD_ACTIONS.map((name) => [name, false]));
  const schema: Partial<ServiceSchema> & { adapter: unknown; collection?: string } = {
    mixins: [DbService as unknown as Partial<ServiceSchema>],
    adapter: options.mongoUrl
      ? new MongoAdapter(options.mongoUrl, {
          useUnifiedTopology: true,
          serverSelectionTimeoutMS: 5000,
          // FerretDB's SQLite backend serializes writers and puts the losers to sleep (SQLite's
          // busy handler): few connections per node cut the saga's p99 at half load from 90–124 ms
          // to 59–72 ms in the benchmark, same throughput. On MongoDB, raise it in MONGO_URL.
          ...(new URL(options.mongoUrl).searchParams.has("maxPoolSize")
            ? {}
            : { maxPoolSize: options.poolSize ?? 4 }),
        })
      : new NedbPromiseAdapter(options.collection),
    actions: disabled,
  };
  if (options.mongoUrl) schema.collection = options.collection;
  return schema;
}
