// The level at which a kafkajs log entry reaches our logs. kafkajs logs every error answer of a
// broker at error level, including the retriable ones it then retries by itself (at start-up the
// group coordinator is routinely "not available" for a moment). Operators alert on error level,
// so an answer kafkajs will retry is a warning; whatever it gives up on still surfaces as an
// error from the consumer or producer.
import { type LogEntry, logLevel } from "kafkajs";

// kafkajs's own table of protocol errors (not in its typings): type, code, retriable, message.
const { errorCodes } = require("kafkajs/src/protocol/error") as {
  errorCodes: { message: string; retriable: boolean }[];
};

const RETRIABLE_MESSAGES: ReadonlySet<string> = new Set(
  errorCodes.filter((e) => e.retriable).map((e) => e.message),
);

const LEVELS: Record<number, "error" | "warn" | "info" | "debug"> = {
  [logLevel.ERROR]: "error",
  [logLevel.WARN]: "warn",
  [logLevel.INFO]: "info",
  [logLevel.DEBUG]: "debug",
};

export function kafkaLogLevel(entry: Pick<LogEntry, "level" | "log">): "error" | "warn" | "info" | "debug" {
  const level = LEVELS[entry.level] ?? "info";
  const error = (entry.log as { error?: unknown }).error;
  if (level === "error" && typeof error === "string" && RETRIABLE_MESSAGES.has(error)) return "warn";
  return level;
}
