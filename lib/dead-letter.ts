// The dead-letter topic's record: the refused message's bytes, key (null stays null) and headers
// unchanged, followed by the dlq-* headers that say why and where from. A replay removes exactly
// those (a message may carry dlq-* headers of its own) and puts back the original.
import { Headers } from "../domain/events";
import type { RawHeader, RawRecord, ReceivedMessage } from "./channel/types";

export const DEAD_LETTER_HEADERS = [
  Headers.deadLetterReason,
  Headers.deadLetterSourceTopic,
  Headers.deadLetterSourcePartition,
  Headers.deadLetterSourceOffset,
] as const;

export function deadLetterRecord(message: ReceivedMessage, reason: string): RawRecord {
  const added: RawHeader[] = [
    [Headers.deadLetterReason, Buffer.from(reason, "utf8")],
    [Headers.deadLetterSourceTopic, Buffer.from(message.topic, "utf8")],
    [Headers.deadLetterSourcePartition, Buffer.from(String(message.partition), "utf8")],
    [Headers.deadLetterSourceOffset, Buffer.from(message.offset, "utf8")],
  ];
  return { key: message.raw.key, value: message.raw.value, headers: [...message.raw.headers, ...added] };
}

/** The original message of a dead letter: its headers without the last of each dlq-* name. */
export function originalOf(deadLetter: RawRecord): RawRecord {
  const headers = [...deadLetter.headers];
  for (const name of DEAD_LETTER_HEADERS) {
    const at = headers.findLastIndex(([n]) => n === name);
    if (at >= 0) headers.splice(at, 1);
  }
  return { key: deadLetter.key, value: deadLetter.value, headers };
}
