// Kafka when brokers are configured; otherwise one process-wide in-process channel, shared by
// the bridge and the in-process payment simulator of the embedded default.
import { KafkaChannel, type KafkaChannelLogger } from "./kafka-channel";
import { MemoryChannel } from "./memory-channel";
import type { Channel } from "./types";

let shared: MemoryChannel | undefined;

export function sharedMemoryChannel(): MemoryChannel {
  shared ??= new MemoryChannel();
  return shared;
}

export interface CreateChannelOptions {
  kafkaBrokers?: string[];
  clientId: string;
  logger?: KafkaChannelLogger;
}

export function createChannel(options: CreateChannelOptions): Channel {
  if (options.kafkaBrokers && options.kafkaBrokers.length > 0) {
    return new KafkaChannel({
      brokers: options.kafkaBrokers,
      clientId: options.clientId,
      logger: options.logger,
    });
  }
  return sharedMemoryChannel();
}
