// `sagas [--stuck]`: sagas in flight (PENDING orders); stuck = past their payment deadline.
import type { Order } from "../../domain/order";
import { type OperatorCommand, table } from "../command";

export const sagasCommand: OperatorCommand = {
  command: "sagas",
  description: "List sagas in flight; --stuck lists only those past their payment deadline",
  options: [{ option: "--stuck", description: "only sagas past their deadline" }],
  async run(broker, args) {
    const now = new Date();
    const params = args.options.stuck ? { dueBefore: now.toISOString(), limit: 500 } : { limit: 500 };
    const rows = await broker.call<Order[], typeof params>("orders.inFlight", params);
    const title = args.options.stuck ? `${rows.length} stuck saga(s)` : `${rows.length} saga(s) in flight`;
    return `${title}\n${table(
      rows.map((o) => ({
        id: o._id,
        user: o.userId,
        deadline: o.paymentDeadline,
        overdue:
          Date.parse(o.paymentDeadline) < now.getTime()
            ? `${Math.round((now.getTime() - Date.parse(o.paymentDeadline)) / 1000)}s`
            : "",
        outbox: o.outboxPending,
      })),
      ["id", "user", "deadline", "overdue", "outbox"],
    )}`;
  },
};
