// One event channel per node, shared by the services of its Kafka edge (outbox relay, payment
// consumer, dead-letter tools): one Kafka client, connected by the first of them to start and
// closed by the last to stop.
import type { ServiceBroker } from "moleculer";
import type { Config } from "../config";
import { createChannel } from "./index";
import type { Channel } from "./types";

interface Shared {
  channel: Channel;
  users: number;
  connected?: Promise<void>;
}

const perBroker = new WeakMap<ServiceBroker, Shared>();

export type ChannelLogger = (
  level: "error" | "warn" | "info" | "debug",
  msg: string,
  extra?: unknown,
) => void;

function shared(broker: ServiceBroker, config: Config, logger: ChannelLogger): Shared {
  let entry = perBroker.get(broker);
  if (!entry) {
    const channel = createChannel({
      kafkaBrokers: config.kafkaBrokers,
      clientId: `order-service-${broker.nodeID}`,
      logger,
    });
    entry = { channel, users: 0 };
    perBroker.set(broker, entry);
  }
  return entry;
}

/** This node's channel (not yet connected): for services that only hold it. */
export function nodeChannel(broker: ServiceBroker, config: Config, logger: ChannelLogger): Channel {
  return shared(broker, config, logger).channel;
}

/** Connects this node's channel (once) for one more user. */
export async function acquireChannel(
  broker: ServiceBroker,
  config: Config,
  logger: ChannelLogger,
): Promise<Channel> {
  const entry = shared(broker, config, logger);
  entry.users++;
  entry.connected ??= entry.channel.connect();
  await entry.connected;
  return entry.channel;
}

/** One user is done with it; the last one disconnects. */
export async function releaseChannel(broker: ServiceBroker): Promise<void> {
  const entry = perBroker.get(broker);
  if (!entry || --entry.users > 0) return;
  entry.connected = undefined;
  perBroker.delete(broker);
  await entry.channel.disconnect();
}

/** Moleculer's logger as the channel's. */
export function channelLogger(logger: Record<string, unknown>): ChannelLogger {
  return (level, msg, extra) => {
    const log = logger as Record<string, (...args: unknown[]) => void>;
    (log[level] ?? log.info)?.(extra ?? {}, msg);
  };
}
