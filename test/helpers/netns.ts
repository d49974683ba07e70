// A service node in a network namespace of its own, for partition tests: two veth pairs to this
// machine, one carrying NATS and one carrying the store, Kafka and the HTTP simulators, so that
// the first can be brought down while the second stays up. The servers listen on loopback only,
// so TCP forwarders bridge them: on this side one per (veth address, port), inside the namespace
// one per loopback port (Kafka's metadata names 127.0.0.1, which the node must reach as well).
// Needs root and iproute2; every name starts with the given prefix, every address is in the
// given /16, and destroy() removes it all.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { join } from "node:path";
import type { NodeServers, Placement } from "./cluster";
import { type Forwarder, forward } from "./tcp-forward";

const ROOT = join(__dirname, "..", "..");

export interface Netns {
  name: string;
  /** This machine's address on the NATS pair and on the data pair. */
  natsHost: string;
  dataHost: string;
  /** The namespace's address on the data pair (its gateway listens there). */
  dataInside: string;
  /** Makes `port` on this machine's loopback reachable from the namespace at `via`:port. */
  expose(via: "nats" | "data", port: number): Promise<void>;
  /** Inside the namespace, 127.0.0.1:port leads to this machine's loopback port over the data pair. */
  loopbackInside(ports: number[]): Promise<void>;
  /** The argv prefix that runs a command inside the namespace. */
  exec: string[];
  cut(pair: "nats" | "data"): void;
  heal(pair: "nats" | "data"): void;
  destroy(): Promise<void>;
}

export function canMakeNetns(): string | false {
  if (process.getuid?.() !== 0) return "needs root (ip netns)";
  try {
    execFileSync("ip", ["netns", "list"], { stdio: "ignore" });
    return false;
  } catch {
    return "needs iproute2 (ip netns)";
  }
}

const ip = (...args: string[]) => execFileSync("ip", args, { stdio: "pipe" });

/** `prefix` names (≤ 9 chars), `net` the first two octets of a /16 (e.g. "10.231"), `slot` 0..63. */
export async function createNetns(prefix: string, net: string, slot: number): Promise<Netns> {
  const name = `${prefix}p${slot}`;
  const links = {
    nats: [`${prefix}n${slot}a`, `${prefix}n${slot}b`],
    data: [`${prefix}d${slot}a`, `${prefix}d${slot}b`],
  };
  const addr = (pair: number, host: 1 | 2) => `${net}.${slot * 4 + pair}.${host}`;
  const natsHost = addr(1, 1);
  const dataHost = addr(2, 1);
  const dataInside = addr(2, 2);
  const forwarders: Forwarder[] = [];
  let inside: ChildProcess | undefined;

  const destroy = async () => {
    inside?.kill("SIGTERM");
    await Promise.all(forwarders.map((f) => f.close()));
    for (const [a] of Object.values(links)) {
      try {
        ip("link", "del", a!);
      } catch {
        // already gone (deleting the namespace deletes its ends too)
      }
    }
    try {
      ip("netns", "del", name);
    } catch {
      // not there
    }
  };

  await destroy(); // leftovers of an interrupted run
  ip("netns", "add", name);
  ip("-n", name, "link", "set", "lo", "up");
  for (const [i, [a, b]] of Object.entries(links).map(([, l], i) => [i, l] as const)) {
    const pair = i + 1;
    ip("link", "add", a!, "type", "veth", "peer", "name", b!);
    ip("link", "set", b!, "netns", name);
    ip("addr", "add", `${addr(pair, 1)}/30`, "dev", a!);
    ip("-n", name, "addr", "add", `${addr(pair, 2)}/30`, "dev", b!);
    ip("link", "set", a!, "up");
    ip("-n", name, "link", "set", b!, "up");
  }

  return {
    name,
    natsHost,
    dataHost,
    dataInside,
    exec: ["ip", "netns", "exec", name],
    async expose(via, port) {
      forwarders.push(await forward(via === "nats" ? natsHost : dataHost, port, "127.0.0.1", port));
    },
    async loopbackInside(ports) {
      const rules = ports.map((p) => `127.0.0.1:${p}=${dataHost}:${p}`);
      inside = spawn(
        "ip",
        [
          "netns",
          "exec",
          name,
          process.execPath,
          "--import",
          "tsx",
          join(ROOT, "test/fixtures/forwarder.ts"),
          ...rules,
        ],
        { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] },
      );
      await new Promise<void>((resolve, reject) => {
        inside!.once("exit", (code) => reject(new Error(`forwarder in ${name} exited with ${code}`)));
        inside!.stdout!.once("data", () => resolve());
      });
    },
    cut(pair) {
      ip("link", "set", links[pair][0]!, "down");
    },
    heal(pair) {
      ip("link", "set", links[pair][0]!, "up");
    },
    destroy,
  };
}

const portOf = (url: string) => Number(new URL(url.includes("://") ? url : `tcp://${url}`).port);
const withHost = (url: string, host: string) => {
  const u = new URL(url);
  u.hostname = host;
  return u.toString().replace(/\/$/, "");
};

/**
 * A node's place in `ns` (for Cluster.startNode, `servers` from Cluster.servers()): every NATS server of the list over the nats
 * pair; the store, every Kafka broker and the HTTP simulators over the data pair. Kafka's metadata
 * advertises every broker as 127.0.0.1:<its port>, so each broker's port is also forwarded from the
 * namespace's loopback. NATS servers gossip their peers' 127.0.0.1 addresses as well: those stay
 * unreachable in there (nothing forwards them), so the nats pair is the node's only way to NATS
 * and cutting it cuts the node from the whole NATS cluster. Its gateway listens on every address
 * and is reached from here at `dataInside`. Call once per namespace.
 */
export async function placeInNetns(ns: Netns, servers: NodeServers): Promise<Placement> {
  const natsUrls = servers.natsUrl.split(",");
  const kafkaPorts = servers.kafkaBrokers.split(",").map(portOf);
  for (const url of natsUrls) await ns.expose("nats", portOf(url));
  for (const url of [servers.mongoUrl, servers.userServiceUrl, servers.inventoryServiceUrl])
    await ns.expose("data", portOf(url));
  for (const port of kafkaPorts) await ns.expose("data", port);
  await ns.loopbackInside(kafkaPorts);
  return {
    exec: ns.exec,
    host: ns.dataInside,
    env: {
      BIND_ADDRESS: "0.0.0.0",
      NATS_URL: natsUrls.map((url) => withHost(url, ns.natsHost)).join(","),
      MONGO_URL: withHost(servers.mongoUrl, ns.dataHost),
      USER_SERVICE_URL: withHost(servers.userServiceUrl, ns.dataHost),
      INVENTORY_SERVICE_URL: withHost(servers.inventoryServiceUrl, ns.dataHost),
    },
  };
}
