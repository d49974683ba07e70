// moleculer-db store factory: MongoDB (FerretDB in tests) when a URL is configured, the built-in
// in-memory adapter otherwise. The generic CRUD actions that moleculer-db adds are switched off:
// they take raw Mongo queries and `$set` every param, so they must never be reachable.
import type { ServiceSchema } from "moleculer";
import DbService from "moleculer-db";
import MongoAdapter from "moleculer-db-adapter-mongo";

export interface DbMixinOptions {
  collection: string;
  mongoUrl?: string;
}

const CRUD_ACTIONS = ["find", "count", "list", "create", "insert", "get", "update", "remove"] as const;

export function dbMixin(options: DbMixinOptions): Partial<ServiceSchema> {
  const disabled = Object.fromEntries(CRUD_ACTIONS.map((name) => [name, false]));
  const schema: Partial<ServiceSchema> & { adapter: unknown; collection?: string } = {
    mixins: [DbService as unknown as Partial<ServiceSchema>],
    adapter: options.mongoUrl
      ? new MongoAdapter(options.mongoUrl, { useUnifiedTopology: true, serverSelectionTimeoutMS: 5000 })
      : new DbService.MemoryAdapter(),
    actions: disabled,
  };
  if (options.mongoUrl) schema.collection = options.collection;
  return schema;
}
