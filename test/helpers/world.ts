// Everything outside the service, for tests and the benchmark on the real servers: the User and
// Inventory simulators over HTTP, a Cluster of service nodes, its topics, and the payment
// simulator on Kafka, and where the independent checker reads them. One stop() takes it all down
// again.
import { KafkaChannel } from "../../lib/channel/kafka-channel";
import type { RunningSimulator } from "../../simulators/http/http-simulator";
import { type InventorySimulator, startInventoryService } from "../../simulators/http/inventory-service";
import { startUserService } from "../../simulators/http/user-service";
import {
  createPaymentSimulator,
  type PaymentRules,
  type PaymentSimulator,
} from "../../simulators/payment/payment-simulator";
import type { PaymentTracer } from "../../simulators/payment/tracing";
import type { CheckerSources } from "./checker";
import { Cluster, type ClusterOptions } from "./cluster";
import type { InfraEnv } from "./env";

export interface World {
  cluster: Cluster;
  user: RunningSimulator;
  inventory: InventorySimulator;
  payment: PaymentSimulator;
  paymentChannel: KafkaChannel;
  /** What test/helpers/checker.ts reads for a verdict: the log, the store, the simulators' ledgers. */
  checkerSources: CheckerSources;
  stop(): Promise<void>;
}

export async function startWorld(
  infra: InfraEnv,
  rules: PaymentRules,
  options: Omit<ClusterOptions, "infra" | "userServiceUrl" | "inventoryServiceUrl"> = {},
  tracer?: PaymentTracer,
): Promise<World> {
  const user = await startUserService();
  const inventory = await startInventoryService();
  const cluster = new Cluster({
    ...options,
    infra,
    userServiceUrl: user.url,
    inventoryServiceUrl: inventory.url,
  });
  await cluster.createTopics();
  const paymentChannel = new KafkaChannel({
    brokers: infra.kafkaBrokers.split(","),
    clientId: `${cluster.id}-payment`,
  });
  const payment = createPaymentSimulator({
    channel: paymentChannel,
    topics: cluster.topics,
    groupId: `${cluster.id}-payment`,
    rules,
    ...(tracer ? { tracer } : {}),
  });
  await payment.start();
  return {
    cluster,
    user,
    inventory,
    payment,
    paymentChannel,
    checkerSources: {
      kafkaBrokers: infra.kafkaBrokers.split(","),
      orderEventsTopic: cluster.topics.orderEvents,
      mongoUrl: cluster.mongoUrl,
      payments: () => payment.ledger(),
      reservations: () => inventory.reservations(),
    },
    async stop() {
      await cluster.stop();
      await payment.stop();
      await paymentChannel.disconnect();
      await user.stop();
      await inventory.stop();
      await cluster.deleteTopics();
    },
  };
}

/**
 * The fence experiments' world (pause-fence, partition-fence): payments answered after 2–6 s
 * against a 4 s deadline, so many arrive while a node's view of its orders is in doubt; the fence
 * as WRITE_FENCE says (on unless "off", for the table without it).
 */
export function startFenceWorld(infra: InfraEnv): Promise<World> {
  return startWorld(
    infra,
    { failureRate: 0, failCents: [13], latencyMs: 2_000, latencyMaxMs: 6_000 },
    {
      paymentTimeoutMs: 4_000,
      extraEnv: { LOG_LEVEL: "warn", WRITE_FENCE: process.env.WRITE_FENCE ?? "on" },
    },
  );
}
