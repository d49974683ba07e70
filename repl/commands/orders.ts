// `orders [--user U] [--status S] [--limit N]`: find orders.
import type { OrderRecord } from "../../lib/order-record";
import { type OperatorCommand, optionalInt, table, UsageError } from "../command";

const STATUSES = ["PENDING", "CONFIRMED", "CANCELLED"];

export const ordersCommand: OperatorCommand = {
  command: "orders",
  description: "Find orders by user and/or status, newest first",
  options: [
    { option: "--user <id>", description: "only this user's orders" },
    { option: "--status <status>", description: "PENDING, CONFIRMED or CANCELLED" },
    { option: "--limit <n>", description: "at most n orders (default 20, max 500)" },
  ],
  async run(broker, args) {
    const params: Record<string, unknown> = {};
    const { user, status } = args.options;
    if (user !== undefined) {
      if (typeof user !== "string" || user.length > 128) throw new UsageError("--user takes a user id");
      params.userId = user;
    }
    if (status !== undefined) {
      const s = String(status).toUpperCase();
      if (!STATUSES.includes(s)) throw new UsageError(`--status must be one of ${STATUSES.join(", ")}`);
      params.status = s;
    }
    const limit = optionalInt(args.options.limit, "limit", 1, 500);
    if (limit) params.limit = limit;
    const rows = await broker.call<OrderRecord[], Record<string, unknown>>("orders.search", params);
    return table(
      rows.map(({ order: o }) => ({
        id: o.id,
        user: o.userId,
        status: o.status,
        reason: o.reason,
        total: `${o.total} ${o.currency}`,
        created: o.createdAt,
      })),
      ["id", "user", "status", "reason", "total", "created"],
    );
  },
};
