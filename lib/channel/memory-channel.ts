// In-process stand-in for Kafka with the same at-least-once contract: per-key ordering through
// partitions, consumer groups with committed offsets that advance only after the handler
// resolved, redelivery of a rejected message, retention until every known group consumed it.
import { createHash } from "node:crypto";
import { deliverByKey } from "./deliver";
import { isRaw, rawOf, stringView, viewOfStrings } from "./raw";
import type {
  Channel,
  ChannelHealth,
  ChannelMessage,
  MessageHandler,
  OutgoingMessage,
  RawHeader,
  RawRecord,
  ReceivedMessage,
  SubscribeOptions,
  Subscription,
} from "./types";

const PARTITIONS = 3;
const REDELIVERY_DELAY_MS = 100;
const DELIVERY_SLICE = 256;
const DELIVERY_CONCURRENCY = 64;

interface Partition {
  /** Offset of log[0]; the prefix below it was trimmed after every group consumed it. */
  base: number;
  log: LogEntry[];
}

/**
 * A record as Kafka would keep it: its bytes, and the string view every group reads. A message
 * published as well-formed strings keeps the strings (its UTF-8 bytes decode to exactly them) and
 * makes its bytes only when a reader asks for them: most readers never do, and thousands of small
 * buffers per second are what the garbage collector pays most for. Anything else keeps its bytes
 * and decodes them once.
 */
interface LogEntry {
  raw?: RawRecord;
  view?: ChannelMessage;
}

interface GroupCursor {
  groupId: string;
  topic: string;
  /** Next offset to deliver, per partition. */
  committed: number[];
  handlers: MessageHandler[];
  running: boolean[];
  stopped: boolean;
  inFlight: Set<Promise<void>>;
}

/** The view, decoded from the bytes the first time it is asked for (frozen: groups share it). */
function viewOf(entry: LogEntry): ChannelMessage {
  if (!entry.view) {
    const view = stringView(entry.raw!);
    Object.freeze(view.headers);
    entry.view = view;
  }
  return entry.view;
}

function receivedOf(entry: LogEntry, topic: string, partition: number, offset: number): ReceivedMessage {
  const { key, value, headers } = viewOf(entry);
  return {
    key,
    value,
    headers,
    topic,
    partition,
    offset: String(offset),
    get raw() {
      entry.raw ??= rawOf(entry.view!);
      return entry.raw;
    },
  };
}

export function partitionOf(key: string, partitions = PARTITIONS): number {
  return createHash("md5").update(key).digest().readUInt32BE(0) % partitions;
}

export class MemoryChannel implements Channel {
  readonly kind = "memory" as const;
  private readonly topics = new Map<string, Partition[]>();
  private readonly groups = new Map<string, GroupCursor>();
  private connected = false;

  async connect(): Promise<void> {
    this.connected = true;
  }

  private topic(name: string): Partition[] {
    let partitions = this.topics.get(name);
    if (!partitions) {
      partitions = Array.from({ length: PARTITIONS }, () => ({ base: 0, log: [] }));
      this.topics.set(name, partitions);
    }
    return partitions;
  }

  async publish(topic: string, messages: OutgoingMessage[]): Promise<void> {
    if (!this.connected) throw new Error("memory channel is disconnected");
    const partitions = this.topic(topic);
    for (const message of messages) {
      let entry: LogEntry;
      if (isRaw(message)) {
        // Someone's bytes are copied: the publisher may reuse its buffers.
        const { key, value, headers } = message.raw;
        entry = {
          raw: {
            key: key && Buffer.from(key),
            value: value && Buffer.from(value),
            headers: headers.map(([name, bytes]): RawHeader => [name, Buffer.from(bytes)]),
          },
        };
      } else {
        const view = viewOfStrings(message);
        if (view) Object.freeze(view.headers);
        entry = view ? { view } : { raw: rawOf(message) };
      }
      partitions[partitionOf(viewOf(entry).key)]!.log.push(entry);
    }
    // Delivery is asynchronous, never inside publish.
    setImmediate(() => this.pumpTopic(topic));
  }

  async subscribe(options: SubscribeOptions, handler: MessageHandler): Promise<Subscription> {
    const cursors: GroupCursor[] = [];
    for (const topic of options.topics) {
      const id = `${options.groupId}\u0000${topic}`;
      let cursor = this.groups.get(id);
      if (!cursor || cursor.stopped) {
        const partitions = this.topic(topic);
        cursor = {
          groupId: options.groupId,
          topic,
          committed:
            cursor?.committed ??
            partitions.map((p) => (options.fromBeginning ? p.base : p.base + p.log.length)),
          handlers: [],
          running: partitions.map(() => false),
          stopped: false,
          inFlight: new Set(),
        };
        this.groups.set(id, cursor);
      }
      cursor.handlers.push(handler);
      cursors.push(cursor);
      setImmediate(() => this.pumpTopic(topic));
    }
    return {
      stop: async () => {
        for (const cursor of cursors) {
          cursor.handlers = cursor.handlers.filter((h) => h !== handler);
          if (cursor.handlers.length === 0) {
            cursor.stopped = true;
            await Promise.allSettled([...cursor.inFlight]);
          }
        }
      },
    };
  }

  private pumpTopic(topic: string): void {
    for (const cursor of this.groups.values()) {
      if (cursor.topic !== topic || cursor.stopped) continue;
      for (let p = 0; p < cursor.committed.length; p++) this.pump(cursor, p);
    }
  }

  /**
   * Delivers what a partition holds, up to a slice, by key (see deliver.ts); the slice's offsets
   * are committed once all of it was handled, as the Kafka channel does.
   */
  private pump(cursor: GroupCursor, p: number): void {
    if (cursor.running[p] || cursor.stopped || !this.connected) return;
    const partition = this.topic(cursor.topic)[p]!;
    const from = cursor.committed[p]!;
    const start = from - partition.base;
    const slice = partition.log.slice(start, start + DELIVERY_SLICE);
    if (slice.length === 0) return;
    // Spread partitions over the group's members, as Kafka's assignment would.
    const handler = cursor.handlers[p % cursor.handlers.length];
    if (!handler) return;
    cursor.running[p] = true;
    const received = slice.map((entry, i) => receivedOf(entry, cursor.topic, p, from + i));
    const run = (async () => {
      const handled = await deliverByKey(received, handler, {
        concurrency: DELIVERY_CONCURRENCY,
        stopping: () => cursor.stopped || !this.connected,
        retryDelayMs: () => REDELIVERY_DELAY_MS,
      });
      // Not handled (stopping): nothing of the slice is committed, all of it comes again.
      if (handled) {
        cursor.committed[p] = from + slice.length;
        this.trim(cursor.topic, p);
      }
      cursor.running[p] = false;
      if (handled) setImmediate(() => this.pump(cursor, p));
    })();
    cursor.inFlight.add(run);
    void run.finally(() => cursor.inFlight.delete(run));
  }

  /** Drops the prefix every group has consumed, so long runs keep memory flat. */
  private trim(topic: string, p: number): void {
    const partition = this.topic(topic)[p]!;
    let min = partition.base + partition.log.length;
    for (const cursor of this.groups.values()) {
      if (cursor.topic === topic) min = Math.min(min, cursor.committed[p]!);
    }
    const drop = min - partition.base;
    if (drop > 1024 || (drop > 0 && drop === partition.log.length)) {
      partition.log.splice(0, drop);
      partition.base = min;
    }
  }

  async consumerLag(groupId: string, topic: string): Promise<number> {
    const cursor = this.groups.get(`${groupId}\u0000${topic}`);
    const partitions = this.topics.get(topic);
    if (!cursor || !partitions) return 0;
    return partitions.reduce((sum, part, p) => sum + (part.base + part.log.length - cursor.committed[p]!), 0);
  }

  async readTopic(topic: string, limit: number): Promise<ReceivedMessage[]> {
    const out: ReceivedMessage[] = [];
    this.topic(topic).forEach((partition, p) => {
      partition.log.forEach((entry, i) => {
        out.push(receivedOf(entry, topic, p, partition.base + i));
      });
    });
    return out.slice(0, limit);
  }

  health(): ChannelHealth {
    return { connected: this.connected, detail: "in-process channel" };
  }

  async disconnect(): Promise<void> {
    this.connected = false;
    await Promise.allSettled([...this.groups.values()].flatMap((c) => [...c.inFlight]));
  }
}
