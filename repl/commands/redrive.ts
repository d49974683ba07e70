// `redrive <id>`: push one saga forward again (relay its events, enforce its deadline, release stock).
import { type OperatorCommand, requireId } from "../command";

export const redriveCommand: OperatorCommand = {
  command: "redrive <id>",
  description: "Re-drive a saga: relay unsent events, apply a passed deadline, release stock still held",
  async run(broker, args) {
    const id = requireId(args.id);
    const res = await broker.call<{ id: string; done: string[] }, { id: string }>("saga.redrive", { id });
    return res.done.length ? `${id}: ${res.done.join("; ")}` : `${id}: nothing to do`;
  },
};
