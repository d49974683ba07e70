// moleculer-db store factory: MongoDB (FerretDB in tests) when a URL is configured, the built-in
// in-memory adapter otherwise. The generic CRUD actions that moleculer-db adds are switched off:
// they take raw Mongo queries and `$set` every param, so they must never be reachable.

import Datastore from "@seald-io/nedb";
import type { ServiceSchema } from "moleculer";
import DbService from "moleculer-db";
import MongoAdapter from "moleculer-db-adapter-mongo";

export interface DbMixinOptions {
  collection: string;
  mongoUrl?: string;
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
  override connect(): Promise<void> {
    const db = new Datastore() as unknown as NedbAsync & Record<string, unknown>;
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
          ...(new URL(options.mongoUrl).searchParams.has("maxPoolSize") ? {} : { maxPoolSize: 4 }),
        })
      : new NedbPromiseAdapter(),
    actions: disabled,
  };
  if (options.mongoUrl) schema.collection = options.collection;
  return schema;
}
