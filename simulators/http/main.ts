// The User and Inventory simulators as one process (docker-compose, demos).
import { startInventoryService } from "./inventory-service";
import { startUserService } from "./user-service";

async function main(): Promise<void> {
  const host = process.env.SIM_HOST ?? "127.0.0.1";
  const user = await startUserService({ port: Number(process.env.USER_SIM_PORT ?? "4001"), host });
  const inventory = await startInventoryService({
    port: Number(process.env.INVENTORY_SIM_PORT ?? "4002"),
    host,
  });
  console.log(
    JSON.stringify({ level: "info", message: "simulators up", user: user.url, inventory: inventory.url }),
  );
  const stop = async () => {
    await Promise.all([user.stop(), inventory.stop()]);
    process.exit(0);
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

main().catch((err: Error) => {
  console.error(err);
  process.exit(1);
});
