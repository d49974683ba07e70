// Kafka through kafkajs. Producer: idempotent, acks = -1, one request in flight (kafkajs 2.2.4
// needs maxInFlightRequests: 1 with idempotent: true). Consumer: a message's offset is resolved
// only after the handler resolved, so the committed offset never passes an unhandled message; a
// failing handler is retried in place with backoff (heartbeating), never skipped.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import {
  type Admin,
  type Consumer,
  Kafka,
  type KafkaMessage,
  type LogEntry,
  logLevel,
  type Message,
  Partitioners,
  type Producer,
} from "kafkajs";
import { deliverByKey } from "./deliver";
import { kafkaLogLevel } from "./kafka-log";
import { stopRequestQueueLoop } from "./kafkajs-request-queue";
import { headersFromKafka, headersToKafka, isRaw, stringView } from "./raw";
import type {
  Channel,
  ChannelHealth,
  MessageHandler,
  OutgoingMessage,
  ReceivedMessage,
  SubscribeOptions,
  Subscription,
} from "./types";

export type KafkaChannelLogger = (
  level: "error" | "warn" | "info" | "debug",
  message: string,
  extra?: unknown,
) => void;

export interface KafkaChannelOptions {
  brokers: string[];
  clientId: string;
  logger?: KafkaChannelLogger;
}

function toReceived(topic: string, partition: number, message: KafkaMessage): ReceivedMessage {
  const raw = { key: message.key, value: message.value, headers: headersFromKafka(message.headers) };
  return { topic, partition, offset: message.offset, ...stringView(raw), raw };
}

/** Ours go as strings (the relay's hot path converts nothing); others' bytes as they came. */
function toKafka(message: OutgoingMessage): Message {
  if (!isRaw(message)) return { key: message.key, value: message.value, headers: message.headers };
  const { key, value, headers } = message.raw;
  return { key, value, headers: headersToKafka(headers) };
}

/**
 * kafkajs 2.2.4's sendBatch can resolve without writing some partitions: when a broker fails
 * mid-send, its retry re-plans the partitions by leader but skips every broker that already
 * answered, so a partition whose leadership moved to such a broker is silently dropped
 * (producer/sendMessages.js, `brokersWithoutResponse`). Seen on a 3-broker cluster when the leader
 * of a partition was killed: 24 of 30 acknowledged messages were never written. Every partition
 * the partitioner chose must appear in the answer; otherwise the send fails and the caller's
 * retry (the outbox relay) sends again: a duplicate at worst, never a loss.
 */
export function assertAllWritten(
  chosen: Set<string>,
  written: { topicName: string; partition: number }[],
): void {
  const answered = new Set(written.map((w) => `${w.topicName}/${w.partition}`));
  const missing = [...chosen].filter((p) => !answered.has(p));
  if (missing.length > 0) {
    throw new Error(
      `kafka did not acknowledge partitions ${missing.join(", ")} (a leader moved mid-send): resend`,
    );
  }
}

/** Messages handled before their offsets are resolved and the group hears a heartbeat. */
const DELIVERY_SLICE = 256;
/** Orders handled at the same time per partition. */
const DELIVERY_CONCURRENCY = 64;

export class KafkaChannel implements Channel {
  readonly kind = "kafka" as const;
  private readonly kafka: Kafka;
  private readonly producer: Producer;
  private admin?: Admin;
  private producerConnected = false;
  private connecting?: Promise<void>;
  private closed = false;
  private readonly consumers = new Set<Consumer>();
  private readonly consumerState = new Map<Consumer, boolean>();
  private readonly outgoing: {
    topic: string;
    messages: OutgoingMessage[];
    resolve: () => void;
    reject: (err: Error) => void;
  }[] = [];
  private flushing = false;
  /** The topic/partitions the partitioner chose during the send under way (one at a time). */
  private partitionsOfSend?: Set<string>;

  constructor(private readonly options: KafkaChannelOptions) {
    // kafkajs 2.2.4's idle 1 ms timer loop, patched once per process (kafkajs-request-queue.ts).
    stopRequestQueueLoop();
    const log = options.logger;
    this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: options.brokers,
      connectionTimeout: 3_000,
      requestTimeout: 10_000,
      retry: { initialRetryTime: 200, retries: 8, maxRetryTime: 5_000 },
      logLevel: log ? logLevel.WARN : logLevel.NOTHING,
      logCreator: () => (entry: LogEntry) => {
        log?.(kafkaLogLevel(entry), `kafkajs: ${entry.log.message}`, { namespace: entry.namespace });
      },
    });
    this.producer = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: () => {
        const partition = Partitioners.DefaultPartitioner();
        return (args) => {
          const chosen = partition(args);
          this.partitionsOfSend?.add(`${args.topic}/${chosen}`);
          return chosen;
        };
      },
      retry: { initialRetryTime: 200, retries: 5, maxRetryTime: 3_000 },
    });
    this.producer.on(this.producer.events.CONNECT, () => {
      this.producerConnected = true;
    });
    this.producer.on(this.producer.events.DISCONNECT, () => {
      this.producerConnected = false;
    });
  }

  /** Never throws for an unreachable cluster: keeps trying in the background. */
  async connect(): Promise<void> {
    this.closed = false;
    this.connecting ??= this.connectLoop();
    await Promise.race([this.connecting, sleep(5_000)]);
  }

  private connectLoop(): Promise<void> {
    return this.keepTrying(
      "kafka producer not connected yet",
      () => this.closed,
      () => this.producer.connect(),
    );
  }

  /** Retries `step` with capped exponential backoff until it succeeds or `givenUp()` says stop. */
  private async keepTrying(what: string, givenUp: () => boolean, step: () => Promise<void>): Promise<void> {
    for (let attempt = 1; !givenUp(); attempt++) {
      try {
        await step();
        return;
      } catch (err) {
        this.options.logger?.("warn", `${what}, retrying`, { attempt, error: (err as Error).message });
        await sleep(Math.min(5_000, 200 * 2 ** attempt));
      }
    }
  }

  /**
   * With one request in flight (idempotence), sends are serialized: everything published while a
   * send is under way leaves together in the next batch, and each caller resolves when its batch
   * is acknowledged.
   */
  publish(topic: string, messages: OutgoingMessage[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error("kafka channel is closed"));
    return new Promise((resolve, reject) => {
      this.outgoing.push({ topic, messages, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.outgoing.length > 0) {
        const batch = this.outgoing.splice(0, this.outgoing.length);
        const byTopic = new Map<string, OutgoingMessage[]>();
        for (const item of batch)
          byTopic.set(item.topic, [...(byTopic.get(item.topic) ?? []), ...item.messages]);
        try {
          if (!this.producerConnected) await this.producer.connect();
          this.partitionsOfSend = new Set();
          const written = await this.producer.sendBatch({
            acks: -1,
            topicMessages: [...byTopic].map(([topic, msgs]) => ({
              topic,
              messages: msgs.map(toKafka),
            })),
          });
          assertAllWritten(this.partitionsOfSend, written);
          for (const item of batch) item.resolve();
        } catch (err) {
          for (const item of batch) item.reject(err as Error);
        } finally {
          this.partitionsOfSend = undefined;
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  async subscribe(options: SubscribeOptions, handler: MessageHandler): Promise<Subscription> {
    const consumer = this.kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
      rebalanceTimeout: 10_000,
      // kafkajs keeps the group coordinator it found until the consumer restarts: when that broker
      // dies it retries the same dead address (each try ~10 s: fetch wait + backoff), and only a
      // restart (after the retries run out) looks the coordinator up again. Few retries, then a
      // restart, ride through a coordinator move in ~20 s instead of ~80 s (test/integration/infra-cluster).
      retry: { initialRetryTime: 200, retries: 2, maxRetryTime: 2_000, restartOnFailure: async () => true },
    });
    let stopped = false;
    this.consumers.add(consumer);
    consumer.on(consumer.events.CONNECT, () => this.consumerState.set(consumer, true));
    consumer.on(consumer.events.DISCONNECT, () => this.consumerState.set(consumer, false));
    consumer.on(consumer.events.CRASH, (e) => {
      this.consumerState.set(consumer, false);
      this.options.logger?.("warn", "kafka consumer crashed, restarting", {
        error: e.payload.error?.message,
      });
    });
    consumer.on(consumer.events.GROUP_JOIN, () => this.consumerState.set(consumer, true));

    const start = () =>
      this.keepTrying(
        "kafka consumer not started yet",
        () => stopped || this.closed,
        async () => {
          await consumer.connect();
          await consumer.subscribe({ topics: options.topics, fromBeginning: options.fromBeginning ?? false });
          await consumer.run({
            autoCommit: true,
            autoCommitInterval: 500,
            partitionsConsumedConcurrently: 3,
            // Fetched batches are handled by key (see deliver.ts) in slices, each slice's offsets
            // resolved only once every message in it is handled.
            eachBatchAutoResolve: false,
            eachBatch: async ({
              batch,
              resolveOffset,
              heartbeat,
              isRunning,
              isStale,
              commitOffsetsIfNecessary,
            }) => {
              const messages = batch.messages.map((m) => toReceived(batch.topic, batch.partition, m));
              for (let from = 0; from < messages.length; from += DELIVERY_SLICE) {
                if (!isRunning() || isStale()) return;
                const slice = messages.slice(from, from + DELIVERY_SLICE);
                const handled = await deliverByKey(slice, handler, {
                  concurrency: DELIVERY_CONCURRENCY,
                  stopping: () => stopped || this.closed || !isRunning() || isStale(),
                  retryDelayMs: (retry) => Math.min(5_000, 100 * 2 ** Math.min(retry, 6)),
                  onRetry: (message, retry, error) =>
                    this.options.logger?.("warn", "message handler failed, retrying the same offset", {
                      topic: message.topic,
                      partition: message.partition,
                      offset: message.offset,
                      retry,
                      error: error.message,
                    }),
                  whileWaiting: heartbeat,
                });
                if (!handled) return;
                resolveOffset(slice.at(-1)!.offset);
                await commitOffsetsIfNecessary();
                await heartbeat();
              }
            },
          });
        },
      );
    const started = start();
    await Promise.race([started, sleep(5_000)]);
    return {
      stop: async () => {
        stopped = true;
        await started.catch(() => undefined);
        await consumer.disconnect().catch(() => undefined);
        this.consumers.delete(consumer);
        this.consumerState.delete(consumer);
      },
    };
  }

  async consumerLag(groupId: string, topic: string): Promise<number> {
    if (!this.admin) {
      this.admin = this.kafka.admin();
      await this.admin.connect();
    }
    const [committed, latest] = await Promise.all([
      this.admin.fetchOffsets({ groupId, topics: [topic] }),
      this.admin.fetchTopicOffsets(topic),
    ]);
    const done = new Map<number, bigint>();
    for (const p of committed[0]?.partitions ?? []) done.set(p.partition, BigInt(p.offset));
    let lag = 0n;
    for (const p of latest) {
      const end = BigInt(p.high);
      const at = done.get(p.partition) ?? -1n;
      // -1: nothing committed yet, so everything from the low watermark is outstanding.
      lag += at < 0n ? end - BigInt(p.low) : end - at;
    }
    return Number(lag);
  }

  async readTopic(topic: string, limit: number): Promise<ReceivedMessage[]> {
    const admin = this.kafka.admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
    const remaining = new Map(
      ends.filter((p) => BigInt(p.high) > BigInt(p.low)).map((p) => [p.partition, BigInt(p.high)]),
    );
    const out: ReceivedMessage[] = [];
    if (remaining.size === 0) return out;
    // A throw-away group: reading for an operator must not move anyone's offsets.
    const consumer = this.kafka.consumer({ groupId: `reader-${randomUUID()}` });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => resolve(), 15_000);
        consumer
          .run({
            autoCommit: false,
            eachMessage: async ({ partition, message }) => {
              if (out.length < limit) {
                out.push(toReceived(topic, partition, message));
              }
              if (BigInt(message.offset) + 1n >= (remaining.get(partition) ?? 0n))
                remaining.delete(partition);
              if (remaining.size === 0 || out.length >= limit) {
                clearTimeout(timer);
                resolve();
              }
            },
          })
          .catch(reject);
      });
    } finally {
      await consumer.disconnect();
    }
    return out;
  }

  health(): ChannelHealth {
    const consumersUp = [...this.consumers].every((c) => this.consumerState.get(c) === true);
    return {
      connected: this.producerConnected && consumersUp,
      detail: `producer ${this.producerConnected ? "up" : "down"}, consumers ${consumersUp ? "up" : "down"}`,
    };
  }

  async disconnect(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.consumers].map((c) => c.disconnect()));
    this.consumers.clear();
    await this.admin?.disconnect().catch(() => undefined);
    this.admin = undefined;
    await this.producer.disconnect().catch(() => undefined);
  }
}
