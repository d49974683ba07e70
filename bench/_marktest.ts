import { MongoClient } from "mongodb";
import { startEmbeddedNode } from "../test/helpers/embedded-node";
import { call } from "../test/helpers/http";
import { token } from "../test/helpers/jwt";

async function main() {
  const db = `mark_${Date.now()}`;
  const mongoUrl = process.env.MONGO_URL!.replace(/\/[^/]*$/, `/${db}`);
  const node = await startEmbeddedNode({
    MONGO_URL: mongoUrl,
    KAFKA_BROKERS: process.env.KAFKA_BROKERS!,
    LOG_LEVEL: "warn",
  });
  const tok = await token("m");
  const res = await call<{ id: string }>(node.url, "POST", "/api/v1/orders", {
    token: tok,
    body: { currency: "EUR", items: [{ productId: "x", quantity: 1, unitPrice: 1177 }] },
  });
  console.log(res.status, res.body.id);
  const mongo = await MongoClient.connect(mongoUrl, { useUnifiedTopology: true });
  for (const ms of [300, 1500, 3000]) {
    await new Promise((r) => setTimeout(r, ms));
    const d = await mongo
      .db()
      .collection("orders")
      .findOne({ _id: res.body.id as never });
    console.log(ms, d?.publishedAt, d?.outboxPending, d?.version);
  }
  await node.stop();
  await mongo.close();
}
main();
