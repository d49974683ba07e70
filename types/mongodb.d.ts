// The mongodb 3.x driver (bundled with moleculer-db-adapter-mongo 0.5) ships no types; this is
// the small part that scripts and tests use directly.
declare module "mongodb" {
  export interface Collection {
    insertOne(doc: object): Promise<unknown>;
    findOne(query: object): Promise<Record<string, unknown> | null>;
    find(query: object, options?: object): { toArray(): Promise<Record<string, unknown>[]> };
    deleteMany(query: object): Promise<unknown>;
    countDocuments(query?: object): Promise<number>;
  }
  export interface Db {
    collection(name: string): Collection;
    dropDatabase(): Promise<unknown>;
    command(cmd: object): Promise<Record<string, unknown>>;
  }
  export class MongoClient {
    static connect(url: string, options?: object): Promise<MongoClient>;
    db(name?: string): Db;
    close(): Promise<void>;
  }
}
