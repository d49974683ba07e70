// Entry point: one code base, one process or many nodes. SERVICES picks what this node runs;
// unset infrastructure URLs select the embedded defaults (in-memory store, in-process channel,
// in-process simulators), so `npm start` works on a machine with nothing else installed.
import { ServiceBroker, type ServiceSchema } from "moleculer";
import { businessMetrics } from "./lib/business-metrics";
import { type Config, ConfigError, loadConfig, type ServiceName, usesDevSecret } from "./lib/config";
import { brokerOptions } from "./moleculer.config";
import { replCustomCommands } from "./repl";
import { apiService, DRAINING_EVENT } from "./services/api.service";
import { deadLettersService } from "./services/dead-letters.service";
import { inventoryProxyService } from "./services/inventory-proxy.service";
import { orderStoreService } from "./services/order-store.service";
import { ordersService } from "./services/orders.service";
import { outboxRelayService } from "./services/outbox-relay.service";
import { paymentConsumerService } from "./services/payment-consumer.service";
import { sagaService } from "./services/saga.service";
import { userProxyService } from "./services/user-proxy.service";
import { type EmbeddedSimulators, startEmbeddedSimulators } from "./simulators/embedded";

export interface RunningNode {
  broker: ServiceBroker;
  config: Config;
  /** The in-process simulators of the embedded default (empty when every dependency is configured). */
  embedded: EmbeddedSimulators;
  /** /ready turns 503 on this node's gateway, then waits `ms` while requests still in the pipe are served. */
  drain(ms: number): Promise<void>;
  stop(): Promise<void>;
}

/** Builds and starts a node; used by the CLI below and by tests that want a real node in-process. */
export async function startNode(config: Config): Promise<RunningNode> {
  const broker = new ServiceBroker(brokerOptions(config));
  businessMetrics(broker); // every business series is on the endpoint from the start
  const embedded = await startEmbeddedSimulators(config);
  const userUrl = config.userServiceUrl ?? embedded.userServiceUrl;
  const inventoryUrl = config.inventoryServiceUrl ?? embedded.inventoryServiceUrl;

  // What each name in SERVICES starts. The order store, the saga and the Kafka edge run together
  // (lib/config.ts checks it): an order's writes, deadline and events all live on its owner node.
  // biome-ignore lint/suspicious/noExplicitAny: each schema has its own settings/vars types
  const factories: Record<ServiceName, () => ServiceSchema<any, any, any>[]> = {
    api: () => [apiService(config)],
    orders: () => [orderStoreService(config), ordersService(config)],
    saga: () => [sagaService(config)],
    "user-proxy": () => [userProxyService(config, requireUrl(userUrl, "USER_SERVICE_URL"))],
    "inventory-proxy": () => [
      inventoryProxyService(config, requireUrl(inventoryUrl, "INVENTORY_SERVICE_URL")),
    ],
    "kafka-bridge": () => [
      outboxRelayService(config),
      paymentConsumerService(config),
      deadLettersService(config),
    ],
  };
  for (const name of config.services) for (const schema of factories[name]()) broker.createService(schema);

  await broker.start();
  await embedded.afterBrokerStart();
  if (usesDevSecret(config)) {
    broker.logger.warn(
      "JWT_SECRET is not set: using the development secret (see README, never in production)",
    );
  }
  return {
    broker,
    config,
    embedded,
    async drain(ms: number) {
      if (!broker.getLocalService("api")) return;
      await broker.broadcastLocal(DRAINING_EVENT);
      broker.logger.info({ drainMs: ms }, "draining: /ready answers 503 until the node stops");
      await new Promise((resolve) => setTimeout(resolve, ms));
    },
    async stop() {
      await broker.stop();
      await embedded.stop();
    },
  };
}

function requireUrl(url: string | undefined, name: string): string {
  if (!url) throw new ConfigError(`${name} must be set when this node runs the proxy but not the simulators`);
  return url;
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`configuration error: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const node = await startNode(config);
  // SIGTERM is the orchestrator's: drain first. A second signal, or SIGINT (a person at a
  // terminal), stops now. Either way the broker stops once.
  let draining = false;
  let stopping = false;
  const stopNow = () => {
    if (stopping) return;
    stopping = true;
    node
      .stop()
      .catch(() => undefined)
      .then(() => process.exit(0));
  };
  process.on("SIGTERM", () => {
    if (draining) return stopNow();
    draining = true;
    node.drain(config.shutdownDrainMs).then(stopNow, stopNow);
  });
  process.on("SIGINT", stopNow);
  if (process.argv.includes("--repl")) {
    node.broker.options.replOptions = { customCommands: replCustomCommands() } as never;
    await node.broker.repl();
  }
}

if (require.main === module) {
  main().catch((err: Error) => {
    console.error(err);
    process.exit(1);
  });
}
