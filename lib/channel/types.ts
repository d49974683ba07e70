// The asynchronous edge seen by the rest of the code: Kafka in production, an in-process
// channel in the embedded default. Both give the same at-least-once contract, so the bridge,
// the saga and the payment simulator are written once against this interface.

export interface ChannelMessage {
  /** Partitioning key: always the order id, so one order's events stay in order. */
  key: string;
  /** Serialized JSON body (kept as a string: validation of untrusted input happens above). */
  value: string;
  headers: Record<string, string>;
}

/** One header as on the wire, in arrival order; a name may repeat. */
export type RawHeader = readonly [name: string, value: Buffer];

/**
 * A message's bytes as Kafka holds them: what others wrote is not always UTF-8, JSON or keyed,
 * and the dead-letter topic must keep (and replay) it unchanged. Two limits of kafkajs: repeated
 * header names come back grouped by name (a, b, a is sent again as a, a, b), and a null header
 * value reads as empty bytes.
 */
export interface RawRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers: RawHeader[];
}

/** What publish takes: a message of ours (strings), or someone's bytes put back unchanged. */
export type OutgoingMessage = ChannelMessage | { raw: RawRecord };

export interface ReceivedMessage extends ChannelMessage {
  topic: string;
  partition: number;
  offset: string;
  /**
   * The same message's bytes. key, value and headers above are their UTF-8 view for JSON of our
   * own contract: a null key reads "", a repeated header its last value.
   */
  raw: RawRecord;
}

/**
 * Resolving means "durably handled": only then may the offset be committed.
 * Rejecting means the message is redelivered (the consumer pauses and retries the same offset).
 */
export type MessageHandler = (message: ReceivedMessage) => Promise<void>;

export interface SubscribeOptions {
  groupId: string;
  topics: string[];
  /** Start from the earliest offset when the group has none committed yet. */
  fromBeginning?: boolean;
}

export interface Subscription {
  stop(): Promise<void>;
}

export interface ChannelHealth {
  connected: boolean;
  detail?: string;
}

export interface Channel {
  readonly kind: "kafka" | "memory";
  connect(): Promise<void>;
  /** Resolves once every message is acknowledged by all in-sync replicas (acks = -1). */
  publish(topic: string, messages: OutgoingMessage[]): Promise<void>;
  subscribe(options: SubscribeOptions, handler: MessageHandler): Promise<Subscription>;
  /** Sum over partitions of (log end offset - committed offset) for a group; memory: undelivered count. */
  consumerLag(groupId: string, topic: string): Promise<number>;
  health(): ChannelHealth;
  /** Reads a topic from its beginning (up to `limit` messages), outside any consumer group: operator tooling. */
  readTopic(topic: string, limit: number): Promise<ReceivedMessage[]>;
  disconnect(): Promise<void>;
}

export interface TopicNames {
  orderEvents: string;
  paymentEvents: string;
  paymentDeadLetters: string;
}

export const Topics: TopicNames = {
  orderEvents: "orders.events",
  paymentEvents: "payments.events",
  paymentDeadLetters: "payments.events.dlq",
};

/** A prefix isolates test runs (and tenants) that share one Kafka cluster. */
export function topicNames(prefix = ""): TopicNames {
  return {
    orderEvents: prefix + Topics.orderEvents,
    paymentEvents: prefix + Topics.paymentEvents,
    paymentDeadLetters: prefix + Topics.paymentDeadLetters,
  };
}
