// FerretDB 1.24's SQLite backend never uses its own _id index (docs/infra.md); our launcher adds
// one on the expression its queries use. Checked on the real data file: a lookup by _id must be an
// index search, not a scan, soon after a collection is created.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, describe, test } from "node:test";
import { MongoClient } from "mongodb";
import { infraEnv, uniqueName, withDatabase } from "../helpers/env";
import { eventually } from "../helpers/http";

const env = infraEnv();
const infraDir = process.env.INFRA_DIR;
const skip =
  "skip" in env
    ? env.skip
    : !infraDir
      ? "needs INFRA_DIR (the FerretDB data directory of scripts/infra.sh)"
      : false;

describe("FerretDB lookups by _id use an index", { skip }, () => {
  const db = uniqueName("idindex");
  let client: MongoClient;

  before(async () => {
    if ("skip" in env) return;
    client = await MongoClient.connect(withDatabase(env.mongoUrl, db), { useUnifiedTopology: true });
  });

  after(async () => {
    await client
      ?.db()
      .dropDatabase()
      .catch(() => undefined);
    await client?.close();
  });

  test("a new collection's _id lookups become index searches within seconds", async () => {
    const col = client.db().collection("orders") as unknown as {
      insertMany(docs: object[]): Promise<unknown>;
      findOne(query: object): Promise<unknown>;
      updateOne(query: object, update: object): Promise<{ matchedCount: number }>;
    };
    await col.insertMany(Array.from({ length: 50 }, (_, i) => ({ _id: `order-${i}`, n: i })));
    const file = join(infraDir!, "data", "ferretdb", `${db}.sqlite`);
    assert.ok(existsSync(file), `${file} exists`);
    const plan = await eventually(
      async () => {
        const sqlite = new DatabaseSync(file, { readOnly: true });
        try {
          const table = sqlite
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'orders_%'")
            .get() as { name: string } | undefined;
          if (!table) return undefined;
          // The statement FerretDB's query pushdown sends for {_id: <string>}.
          const rows = sqlite
            .prepare(
              `EXPLAIN QUERY PLAN SELECT _ferretdb_sjson FROM "${table.name}" WHERE _ferretdb_sjson->'$._id' = ?`,
            )
            .all('"order-7"') as { detail: string }[];
          const detail = rows.map((r) => r.detail).join("; ");
          return /USING INDEX \S+__id_pushdown/.test(detail) ? detail : undefined;
        } finally {
          sqlite.close();
        }
      },
      5_000,
      100,
    );
    assert.match(plan, /SEARCH .* USING INDEX/);
    // And FerretDB still answers correctly through it.
    assert.deepEqual(await col.findOne({ _id: "order-7" }), { _id: "order-7", n: 7 });
    const res = await col.updateOne({ _id: "order-8" }, { $set: { n: 80 } });
    assert.equal(res.matchedCount, 1);
    assert.equal(((await col.findOne({ _id: "order-8" })) as { n: number }).n, 80);
  });
});
