// The embedded default: when a dependency is not configured, its simulator runs in this process,
// so `npm start` serves a working saga with nothing else installed.
import { sharedMemoryChannel } from "../lib/channel";
import type { Config } from "../lib/config";
import type { RunningSimulator } from "./http/http-simulator";
import { type InventorySimulator, startInventoryService } from "./http/inventory-service";
import { startUserService } from "./http/user-service";
import { createPaymentSimulator, type PaymentSimulator } from "./payment/payment-simulator";
import { jaegerPaymentTracer } from "./payment/tracing";

export interface EmbeddedSimulators {
  userServiceUrl?: string;
  inventoryServiceUrl?: string;
  user?: RunningSimulator;
  inventory?: InventorySimulator;
  payment?: PaymentSimulator;
  afterBrokerStart(): Promise<void>;
  stop(): Promise<void>;
}

/** Demo rule of the embedded default: totals ending in 13 cents are declined. */
export const EMBEDDED_PAYMENT_RULES = { failureRate: 0, failCents: [13], latencyMs: 20 };

export async function startEmbeddedSimulators(config: Config): Promise<EmbeddedSimulators> {
  const running: RunningSimulator[] = [];
  const result: EmbeddedSimulators = {
    async afterBrokerStart() {
      await result.payment?.start();
    },
    async stop() {
      await result.payment?.stop();
      await Promise.all(running.map((s) => s.stop()));
    },
  };
  const needsProxies = config.services.includes("user-proxy") || config.services.includes("inventory-proxy");
  if (needsProxies && !config.userServiceUrl) {
    const user = await startUserService({ port: 0 });
    running.push(user);
    result.user = user;
    result.userServiceUrl = user.url;
  }
  if (needsProxies && !config.inventoryServiceUrl) {
    const inventory = await startInventoryService({ port: 0 });
    running.push(inventory);
    result.inventory = inventory;
    result.inventoryServiceUrl = inventory.url;
  }
  if (!config.kafkaBrokers && config.services.includes("kafka-bridge")) {
    const tracing = config.tracingSamplingRate > 0 && config.jaegerEndpoint;
    result.payment = createPaymentSimulator({
      channel: sharedMemoryChannel(),
      rules: EMBEDDED_PAYMENT_RULES,
      ...(tracing ? { tracer: jaegerPaymentTracer(config.jaegerEndpoint!) } : {}),
    });
  }
  return result;
}
