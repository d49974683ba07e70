// `breakers [--reset] [--dependency D]`: circuit breaker state per dependency, and a reset.
import type { BreakerEntry } from "../../mixins/breaker-view.mixin";
import { type OperatorCommand, table, UsageError } from "../command";

export const breakersCommand: OperatorCommand = {
  command: "breakers",
  description: "Circuit breakers seen by the saga node(s); --reset closes them",
  options: [
    { option: "--reset", description: "close the breakers (all, or --dependency's)" },
    { option: "--dependency <name>", description: "user-service or inventory-service" },
  ],
  async run(broker, args) {
    const dependency = args.options.dependency;
    if (dependency !== undefined && !["user-service", "inventory-service"].includes(String(dependency))) {
      throw new UsageError("--dependency must be user-service or inventory-service");
    }
    if (args.options.reset) {
      const res = await broker.call<{ reset: string[] }, { dependency?: string }>(
        "saga.resetBreakers",
        dependency ? { dependency: String(dependency) } : {},
      );
      return res.reset.length
        ? `reset: ${res.reset.join(", ")}`
        : "nothing to reset: no breaker has changed state";
    }
    const list = await broker.call<BreakerEntry[]>("saga.breakers");
    const rows = list.filter((b) => !dependency || b.dependency === dependency);
    if (rows.length === 0) return "all closed: no breaker has changed state on this node";
    return table(rows as unknown as Record<string, unknown>[], [
      "dependency",
      "endpoint",
      "state",
      "since",
      "transitions",
    ]);
  },
};
