// An operator command for the Moleculer REPL. `run` returns the text to print, so commands are
// tested without a terminal; misuse answers with an explanation, never a stack trace.
import type { ServiceBroker } from "moleculer";

export interface CommandArgs {
  options: Record<string, unknown>;
  [positional: string]: unknown;
}

export interface OperatorCommand {
  /** commander.js syntax, e.g. "order <id>". */
  command: string;
  description: string;
  options?: { option: string; description: string }[];
  run(broker: ServiceBroker, args: CommandArgs): Promise<string>;
}

export class UsageError extends Error {}

export function requireId(value: unknown, what = "order id"): string {
  if (typeof value !== "string" || !/^[A-Za-z0-9._:-]{1,64}$/.test(value)) {
    throw new UsageError(`give a valid ${what} (letters, digits, . _ : -, at most 64)`);
  }
  return value;
}

export function optionalInt(value: unknown, name: string, min: number, max: number): number | undefined {
  if (value === undefined || value === true) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`--${name} must be an integer in ${min}..${max}`);
  return n;
}

export function table(rows: Record<string, unknown>[], columns: string[]): string {
  if (rows.length === 0) return "(none)";
  const cells = rows.map((r) => columns.map((c) => String(r[c] ?? "")));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [line(columns), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n");
}

/** Errors of the services, turned into one readable line. */
export function explain(err: unknown): string {
  if (err instanceof UsageError) return `usage: ${err.message}`;
  const e = err as { code?: number; message?: string; name?: string };
  if (e?.name === "ServiceNotFoundError")
    return "error: the service is not running on any node of this namespace";
  if (e?.code === 404) return `not found: ${e.message}`;
  if (e?.name === "ValidationError") return `invalid input: ${e.message}`;
  return `error: ${e?.message ?? String(err)}`;
}
