// `compensate <id>`: force-compensate one saga (cancel, release stock, publish OrderCancelled).
import { type OperatorCommand, requireId } from "../command";

export const compensateCommand: OperatorCommand = {
  command: "compensate <id>",
  description: "Force-compensate a PENDING order: cancel it, release its stock, publish OrderCancelled",
  async run(broker, args) {
    const id = requireId(args.id);
    const res = await broker.call<{ found: boolean; decision: string; status?: string }, { id: string }>(
      "saga.forceCancel",
      { id },
    );
    if (!res.found) return `not found: no order ${id}`;
    if (res.decision === "apply")
      return `compensated: ${id} is ${res.status} (operator-cancelled), stock released`;
    return `nothing done: ${id} is ${res.status}, only PENDING orders can be compensated`;
  },
};
