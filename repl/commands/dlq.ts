// `dlq [--limit N]`: messages on the dead-letter topic, with the reason each was refused.
import { type OperatorCommand, optionalInt, table } from "../command";

export const dlqCommand: OperatorCommand = {
  command: "dlq",
  description: "List dead-lettered payment messages with their reasons",
  options: [{ option: "--limit <n>", description: "at most n messages (default 50)" }],
  async run(broker, args) {
    const limit = optionalInt(args.options.limit, "limit", 1, 1000) ?? 50;
    const rows = await broker.call<Record<string, unknown>[], { limit: number }>("dead-letters.list", {
      limit,
    });
    return `${rows.length} dead letter(s)\n${table(rows, ["partition", "offset", "key", "reason", "source"])}`;
  },
};
