// `order <id>`: one order with its history and what is still waiting in its outbox.
import type { Order } from "../../domain/order";
import { type OperatorCommand, requireId, table } from "../command";

export const orderCommand: OperatorCommand = {
  command: "order <id>",
  description: "Show one order: state, reason, history, outbox",
  async run(broker, args) {
    const id = requireId(args.id);
    const order = await broker.call<Order | null, { id: string }>("orders.get", { id });
    if (!order) return `not found: no order ${id}`;
    return [
      `order ${order._id}  user ${order.userId}  ${order.status}${order.reason ? ` (${order.reason})` : ""}  v${order.version}`,
      `total ${order.total} ${order.currency}  userVerified ${order.userVerified}  stockHeld ${order.stockHeld}  deadline ${order.paymentDeadline}`,
      order.refund
        ? `refund requested ${order.refund.requestedAt}${order.refund.completedAt ? `, completed ${order.refund.completedAt}` : ""}`
        : "",
      "history:",
      table(order.history as unknown as Record<string, unknown>[], ["from", "to", "at", "reason"]),
      `outbox: ${order.outboxPending} pending ${order.outbox.map((e) => e.event.type).join(", ")}`,
    ]
      .filter(Boolean)
      .join("\n");
  },
};
