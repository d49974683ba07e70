// Conversions between a message's bytes (RawRecord) and the string view the rest of the code
// reads; shared by both channels so they agree on every edge (null key, repeated header).
import type { IHeaders } from "kafkajs";
import type { ChannelMessage, OutgoingMessage, RawHeader, RawRecord } from "./types";

export function isRaw(message: OutgoingMessage): message is { raw: RawRecord } {
  return "raw" in message;
}

/** Our own message as bytes (UTF-8). */
export function rawOf(message: OutgoingMessage): RawRecord {
  if (isRaw(message)) return message.raw;
  return {
    key: Buffer.from(message.key, "utf8"),
    value: Buffer.from(message.value, "utf8"),
    headers: Object.entries(message.headers).map(([name, value]) => [name, Buffer.from(value, "utf8")]),
  };
}

/** The UTF-8 view: null key "", null value "", a repeated header its last value. */
export function stringView(raw: RawRecord): ChannelMessage {
  // A Map, then fromEntries: a header named __proto__ must stay a header.
  const headers = new Map<string, string>();
  for (const [name, value] of raw.headers) headers.set(name, value.toString("utf8"));
  return {
    key: raw.key?.toString("utf8") ?? "",
    value: raw.value?.toString("utf8") ?? "",
    headers: Object.fromEntries(headers),
  };
}

/**
 * Our own message's view without going through its bytes: stringView(rawOf(message)) is the
 * message itself when every string is well-formed UTF-16 (a lone surrogate would be encoded as
 * U+FFFD). Undefined when one is not: then only the bytes tell.
 */
export function viewOfStrings(message: ChannelMessage): ChannelMessage | undefined {
  const { key, value, headers } = message;
  if (!key.isWellFormed() || !value.isWellFormed()) return undefined;
  for (const name in headers) if (!headers[name]!.isWellFormed()) return undefined;
  return { key, value, headers: { ...headers } };
}

/** kafkajs' decoded headers (repeats as arrays) → the list, in the order kafkajs kept. */
export function headersFromKafka(headers: IHeaders | undefined): RawHeader[] {
  const out: RawHeader[] = [];
  for (const [name, value] of Object.entries(headers ?? {})) {
    for (const v of Array.isArray(value) ? value : [value]) {
      // kafkajs reads a null header value as null; it cannot send one back (see RawRecord).
      out.push([name, v == null ? Buffer.alloc(0) : Buffer.isBuffer(v) ? v : Buffer.from(String(v), "utf8")]);
    }
  }
  return out;
}

/** The list → kafkajs' shape (a repeated name becomes an array, in order). */
export function headersToKafka(headers: readonly RawHeader[]): IHeaders {
  const out = new Map<string, Buffer[]>();
  for (const [name, value] of headers) out.set(name, [...(out.get(name) ?? []), value]);
  return Object.fromEntries(
    [...out].map(([name, values]) => [name, values.length === 1 ? values[0] : values]),
  );
}
