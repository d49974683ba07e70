// Operators' tools for the dead-letter topic: list what is there and why, and put one message
// back on the payment topic unchanged (after a fix), to be validated again.
import type { Context, ServiceSchema } from "moleculer";
import { Errors } from "moleculer";
import type { DeadLetterView, ReplayParams } from "../contracts/payments";
import { Headers } from "../domain/events";
import { acquireChannel, channelLogger, nodeChannel, releaseChannel } from "../lib/channel/shared";
import { type Channel, topicNames } from "../lib/channel/types";
import type { Config } from "../lib/config";
import { originalOf } from "../lib/dead-letter";

interface DeadLetterVars {
  channel: Channel;
}

type DeadLetterSchema = ServiceSchema<Record<string, never>, Record<string, never>, DeadLetterVars>;

export function deadLettersService(config: Config): DeadLetterSchema {
  const topics = topicNames(config.kafkaTopicPrefix);
  return {
    name: "dead-letters",
    actions: {
      list: {
        visibility: "public",
        params: {
          limit: { type: "number", integer: true, min: 1, max: 1000, optional: true, convert: true },
        },
        async handler(ctx: Context<{ limit?: number }>): Promise<DeadLetterView[]> {
          const messages = await this.channel.readTopic(topics.paymentDeadLetters, ctx.params.limit ?? 50);
          return messages.map((m) => ({
            partition: m.partition,
            offset: m.offset,
            key: m.raw.key === null ? null : m.key,
            reason: m.headers[Headers.deadLetterReason],
            source: `${m.headers[Headers.deadLetterSourceTopic]}/${m.headers[Headers.deadLetterSourcePartition]}@${m.headers[Headers.deadLetterSourceOffset]}`,
            value: m.value.length > 200 ? `${m.value.slice(0, 200)}…` : m.value,
          }));
        },
      },

      replay: {
        visibility: "public",
        params: {
          partition: { type: "number", integer: true, min: 0, convert: true },
          offset: { type: "string", pattern: /^\d{1,19}$/ },
        },
        async handler(ctx: Context<ReplayParams>) {
          const messages = await this.channel.readTopic(topics.paymentDeadLetters, 100_000);
          const found = messages.find(
            (m) => m.partition === ctx.params.partition && m.offset === ctx.params.offset,
          );
          if (!found)
            throw new Errors.MoleculerClientError(
              "No dead letter at that partition and offset",
              404,
              "NOT_FOUND",
            );
          await this.channel.publish(topics.paymentEvents, [{ raw: originalOf(found.raw) }]);
          return {
            replayed: true,
            key: found.raw.key === null ? null : found.key,
            topic: topics.paymentEvents,
          };
        },
      },
    },

    created() {
      this.channel = nodeChannel(this.broker, config, channelLogger(this.logger as never));
    },
    async started() {
      await acquireChannel(this.broker, config, channelLogger(this.logger as never));
    },
    async stopped() {
      await releaseChannel(this.broker);
    },
  };
}
