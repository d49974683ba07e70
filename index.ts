// Entry point: one code base, one process or many nodes. SERVICES picks what this node runs;
// unset infrastructure URLs select the embedded defaults (in-memory store, in-process channel,
// in-process simulators), so `npm start` works on a machine with nothing else installed.
import { ServiceBroker, type ServiceSchema } from "moleculer";
import { businessMetrics } from "./lib/business-metrics";
import { type Config, ConfigError, loadConfig, type ServiceName, usesDevSecret } from "./lib/config";
import { brokerOptions } from "./moleculer.config";
import { replCustomCommands } from "./repl";
import { apiService } from "./services/api.service";
import { inventoryProxyService } from "./services/inventory-proxy.service";
import { kafkaBridgeService } from "./services/kafka-bridge.service";
import { ordersService } from "./services/orders.service";
import { sagaService } from "./services/saga.service";
import { userProxyService } from "./services/user-proxy.service";
import { type EmbeddedSimulators, startEmbeddedSimulators } from "./simulators/embedded";

export interface RunningNode {
  broker: ServiceBroker;
  config: Config;
  /** The in-process simulators of the embedded default (empty when every dependency is configured). */
  embedded: EmbeddedSimulators;
  stop(): Promise<void>;
}

/** Builds and starts a node; used by the CLI below and by tests that want a real node in-process. */
export async function startNode(config: Config): Promise<RunningNode> {
  const broker = new ServiceBroker(brokerOptions(config));
  businessMetrics(broker); // every business series is on the endpoint from the start
  const embedded = await startEmbeddedSimulators(config);
  const userUrl = config.userServiceUrl ?? embedded.userServiceUrl;
  const inventoryUrl = config.inventoryServiceUrl ?? embedded.inventoryServiceUrl;

  // biome-ignore lint/suspicious/noExplicitAny: each schema has its own settings/vars types
  const factories: Record<ServiceName, () => ServiceSchema<any, any, any>> = {
    api: () => apiService(config),
    orders: () => ordersService(config),
    saga: () => sagaService(config),
    "user-proxy": () => userProxyService(config, requireUrl(userUrl, "USER_SERVICE_URL")),
    "inventory-proxy": () => inventoryProxyService(config, requireUrl(inventoryUrl, "INVENTORY_SERVICE_URL")),
    "kafka-bridge": () => kafkaBridgeService(config),
  };
  for (const name of config.services) broker.createService(factories[name]());

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
  const shutdown = async () => {
    await node.stop().catch(() => undefined);
    process.exit(0);
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
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
