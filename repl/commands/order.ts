// `order <id>`: one order with its history and what is still waiting in its outbox.
import type { OrderRecord } from "../../lib/order-record";
import { type OperatorCommand, requireId, table } from "../command";

export const orderCommand: OperatorCommand = {
  command: "order <id>",
  description: "Show one order: state, reason, history, outbox",
  async run(broker, args) {
    const id = requireId(args.id);
    const record = await broker.call<OrderRecord | null, { id: string; fresh: boolean }>("order-store.get", {
      id,
      fresh: true,
    });
    if (!record) return `not found: no order ${id}`;
    const { order, outbox } = record;
    return [
      `order ${order.id}  user ${order.userId}  ${order.status}${order.reason ? ` (${order.reason})` : ""}  v${order.version}`,
      `total ${order.total} ${order.currency}  userVerified ${order.userVerified}  stockHeld ${order.stockHeld}  deadline ${order.paymentDeadline}`,
      order.payments.length ? "payments:" : "",
      order.payments.length
        ? table(order.payments as unknown as Record<string, unknown>[], [
            "paymentId",
            "amount",
            "currency",
            "outcome",
            "refundReason",
            "at",
          ])
        : "",
      "history:",
      table(order.history as unknown as Record<string, unknown>[], ["from", "to", "at", "reason"]),
      `outbox: ${outbox.length} pending ${outbox.map((e) => e.event.type).join(", ")}`,
    ]
      .filter(Boolean)
      .join("\n");
  },
};
