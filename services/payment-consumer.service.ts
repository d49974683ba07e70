// The payment consumer: reads `payments.events` in a consumer group, validates every message,
// hands good ones to the saga on the order's owner node, and dead-letters the rest with their
// reason. A message's offset is committed only once the saga has durably taken it (the channel
// commits when the handler resolves); a throw leaves it to be redelivered.
import type { ServiceSchema } from "moleculer";
import type { ConsumerStatus } from "../contracts/payments";
import type { ApplyPaymentParams, PaymentOutcome } from "../contracts/saga";
import { Headers } from "../domain/events";
import { checkPaymentMessage } from "../domain/payment-message";
import { businessMetrics } from "../lib/business-metrics";
import { acquireChannel, channelLogger, nodeChannel, releaseChannel } from "../lib/channel/shared";
import { type Channel, type ReceivedMessage, type Subscription, topicNames } from "../lib/channel/types";
import type { Config } from "../lib/config";
import { deadLetterRecord } from "../lib/dead-letter";
import { ownerOf } from "../lib/order-owner";
import { parentSpanOf } from "../lib/trace";

export interface ConsumerSettings {
  consumerGroup: string;
}

interface ConsumerVars {
  channel: Channel;
  subscription?: Subscription;
  lagTimer?: NodeJS.Timeout;
  counters: { consumed: number; deadLettered: number; ignored: number };
}

interface ConsumerMethods {
  handle(message: ReceivedMessage): Promise<void>;
  applyPayment(params: ApplyPaymentParams, message: ReceivedMessage): Promise<PaymentOutcome>;
  deadLetter(message: ReceivedMessage, reason: string): Promise<void>;
}

type ConsumerSchema = ServiceSchema<ConsumerSettings, ConsumerMethods & Record<string, never>, ConsumerVars>;

export function paymentConsumerService(config: Config): ConsumerSchema {
  const topics = topicNames(config.kafkaTopicPrefix);
  return {
    name: "payment-consumer",
    dependencies: ["saga"],
    settings: { consumerGroup: config.kafkaConsumerGroup },

    actions: {
      status: {
        visibility: "public",
        async handler(): Promise<ConsumerStatus> {
          const lag = await this.channel
            .consumerLag(this.settings.consumerGroup, topics.paymentEvents)
            .catch(() => -1);
          return { ...this.counters, lag };
        },
      },
    },

    methods: {
      async handle(message: ReceivedMessage): Promise<void> {
        const parsed = checkPaymentMessage(message.raw);
        if (!parsed.ok) return this.deadLetter(message, parsed.reason);
        this.counters.consumed++;
        const result = await this.applyPayment(
          {
            event: parsed.event,
            correlationId: message.headers[Headers.correlationId],
            traceParent: message.headers[Headers.traceParent],
          },
          message,
        );
        if (result.outcome === "rejected") return this.deadLetter(message, result.why);
        if (result.outcome === "ignored") {
          this.counters.ignored++;
          this.logger.info(
            { orderId: parsed.event.orderId, eventId: parsed.event.eventId, why: result.why },
            "payment event ignored",
          );
        }
      },

      /**
       * On the order's owner node, where its writes happen. The message's span continues the
       * order's trace (its parent came in the traceparent header); the saga's handling is its child.
       */
      async applyPayment(params: ApplyPaymentParams, message: ReceivedMessage): Promise<PaymentOutcome> {
        const { event } = params;
        const parentSpan = parentSpanOf(params.traceParent);
        const span =
          parentSpan && this.broker.isTracingEnabled()
            ? this.broker.tracer.startSpan(`consume ${message.topic}`, {
                traceID: parentSpan.traceID,
                parentID: parentSpan.id,
                sampled: parentSpan.sampled,
                service: this.name,
                tags: {
                  orderId: event.orderId,
                  eventType: event.type,
                  partition: message.partition,
                  offset: message.offset,
                },
              })
            : undefined;
        const owner = ownerOf(this.broker, event.orderId);
        const sagaThere = owner && this.broker.registry.getActionEndpointByNodeId("saga.applyPayment", owner);
        try {
          return await this.broker.call<PaymentOutcome, ApplyPaymentParams>("saga.applyPayment", params, {
            ...(sagaThere ? { nodeID: owner } : {}),
            ...(span
              ? { parentSpan: { traceID: span.traceID, id: span.id, sampled: span.sampled } }
              : parentSpan
                ? { parentSpan }
                : {}),
          });
        } finally {
          span?.finish();
        }
      },

      async deadLetter(message: ReceivedMessage, reason: string): Promise<void> {
        this.counters.deadLettered++;
        // The label keeps the reason's kind only: schema paths would explode the series count.
        businessMetrics(this.broker).dlqMessages.inc({ reason: reason.split(":")[0] ?? reason });
        this.logger.warn(
          { reason, partition: message.partition, offset: message.offset },
          "payment message dead-lettered",
        );
        await this.channel.publish(topics.paymentDeadLetters, [{ raw: deadLetterRecord(message, reason) }]);
      },
    },

    created() {
      this.counters = { consumed: 0, deadLettered: 0, ignored: 0 };
      this.channel = nodeChannel(this.broker, config, channelLogger(this.logger as never));
    },

    async started() {
      await acquireChannel(this.broker, config, channelLogger(this.logger as never));
      this.subscription = await this.channel.subscribe(
        { groupId: this.settings.consumerGroup, topics: [topics.paymentEvents], fromBeginning: true },
        (message) => this.handle(message),
      );
      if (this.broker.isMetricsEnabled()) {
        this.lagTimer = setInterval(() => {
          this.channel
            .consumerLag(this.settings.consumerGroup, topics.paymentEvents)
            .then((lag) => businessMetrics(this.broker).consumerLag.set({ topic: topics.paymentEvents }, lag))
            .catch(() => undefined);
        }, 5_000);
        this.lagTimer.unref();
      }
    },

    async stopped() {
      if (this.lagTimer) clearInterval(this.lagTimer);
      await this.subscription?.stop();
      await releaseChannel(this.broker);
    },
  };
}
