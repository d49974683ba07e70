// `sagas [--stuck]`: sagas in flight (PENDING orders); stuck = past their payment deadline.
import type { OrderRecord } from "../../lib/order-record";
import { type OperatorCommand, table } from "../command";

export const sagasCommand: OperatorCommand = {
  command: "sagas",
  description: "List sagas in flight; --stuck lists only those past their payment deadline",
  options: [{ option: "--stuck", description: "only sagas past their deadline" }],
  async run(broker, args) {
    const now = new Date();
    const params = args.options.stuck
      ? { status: "PENDING", dueBefore: now.toISOString(), limit: 500 }
      : { status: "PENDING", limit: 500 };
    const rows = await broker.call<OrderRecord[], typeof params>("orders.search", params);
    const title = args.options.stuck ? `${rows.length} stuck saga(s)` : `${rows.length} saga(s) in flight`;
    return `${title}\n${table(
      rows.map(({ order: o, outbox }) => ({
        id: o.id,
        user: o.userId,
        deadline: o.paymentDeadline,
        overdue:
          Date.parse(o.paymentDeadline) < now.getTime()
            ? `${Math.round((now.getTime() - Date.parse(o.paymentDeadline)) / 1000)}s`
            : "",
        outbox: outbox.length,
      })),
      ["id", "user", "deadline", "overdue", "outbox"],
    )}`;
  },
};
