// `dlq-replay <partition> <offset>`: put a dead letter back on the payment topic after a fix.
import { type OperatorCommand, UsageError } from "../command";

export const dlqReplayCommand: OperatorCommand = {
  command: "dlq-replay <partition> <offset>",
  description: "Replay one dead letter onto payments.events (it is validated again)",
  async run(broker, args) {
    const partition = Number(args.partition);
    const offset = String(args.offset ?? "");
    if (!Number.isInteger(partition) || partition < 0)
      throw new UsageError("partition must be a non-negative integer (see `dlq`)");
    if (!/^\d{1,19}$/.test(offset)) throw new UsageError("offset must be a number (see `dlq`)");
    const res = await broker.call<
      { key: string | null; topic: string },
      { partition: number; offset: string }
    >("dead-letters.replay", {
      partition,
      offset,
    });
    return `replayed message for ${res.key ?? "(no key)"} onto ${res.topic}`;
  },
};
