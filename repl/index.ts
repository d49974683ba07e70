// The operator commands, adapted to moleculer-repl's custom commands.
import type { ServiceBroker } from "moleculer";
import { type CommandArgs, explain, type OperatorCommand } from "./command";
import { breakersCommand } from "./commands/breakers";
import { compensateCommand } from "./commands/compensate";
import { dlqCommand } from "./commands/dlq";
import { dlqReplayCommand } from "./commands/dlq-replay";
import { orderCommand } from "./commands/order";
import { ordersCommand } from "./commands/orders";
import { outboxCommand } from "./commands/outbox";
import { redriveCommand } from "./commands/redrive";
import { sagasCommand } from "./commands/sagas";

export const OPERATOR_COMMANDS: OperatorCommand[] = [
  orderCommand,
  ordersCommand,
  sagasCommand,
  compensateCommand,
  redriveCommand,
  breakersCommand,
  outboxCommand,
  dlqCommand,
  dlqReplayCommand,
];

/** Runs a command and always answers with text: the REPL must never die on misuse. */
export async function runCommand(
  command: OperatorCommand,
  broker: ServiceBroker,
  args: CommandArgs,
): Promise<string> {
  try {
    return await command.run(broker, { ...args, options: args.options ?? {} });
  } catch (err) {
    return explain(err);
  }
}

export function replCustomCommands() {
  return OPERATOR_COMMANDS.map((command) => ({
    command: command.command,
    description: command.description,
    options: command.options ?? [],
    async action(broker: ServiceBroker, args: CommandArgs) {
      console.log(await runCommand(command, broker, args ?? { options: {} }));
    },
  }));
}
