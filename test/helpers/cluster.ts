// Runs real service nodes as separate processes (the same entry point users run), against the
// real servers, each test file isolated by its own Moleculer namespace, database and topic prefix.
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import { join } from "node:path";
import { Kafka, logLevel } from "kafkajs";
import { topicNames } from "../../lib/channel/types";
import { type InfraEnv, uniqueName, withDatabase } from "./env";
import { call, eventually } from "./http";
import { TEST_AUDIENCE, TEST_ISSUER, TEST_SECRET } from "./jwt";

const ROOT = join(__dirname, "..", "..");
const LOG_DIR = process.env.TEST_LOG_DIR ?? join("/tmp", "order-service-test-logs");

export interface NodeHandle {
  name: string;
  port: number;
  url: string;
  process: ChildProcess;
  env: Record<string, string>;
  /** Where it runs when not on loopback; a restart (startNode again) runs it there again. */
  placement?: Placement;
}

/** Where a node runs when not on this machine's loopback (a network namespace, test/helpers/netns.ts). */
export interface Placement {
  /** argv prefix that runs the node there, e.g. ["ip", "netns", "exec", name]. */
  exec: string[];
  /** The address its gateway is reached at from here. */
  host: string;
  /** Environment overrides: server URLs as seen from there, BIND_ADDRESS. */
  env: Record<string, string>;
}

/** The servers a node reaches, as this machine sees them (comma lists for clusters). */
export interface NodeServers extends InfraEnv {
  /** The cluster's own database on the store (not the env file's). */
  mongoUrl: string;
  userServiceUrl: string;
  inventoryServiceUrl: string;
}

export interface ClusterOptions {
  infra: InfraEnv;
  userServiceUrl: string;
  inventoryServiceUrl: string;
  paymentTimeoutMs?: number;
  extraEnv?: Record<string, string>;
  /** What a node runs: the TypeScript entry through tsx (default), or compiled JS (the benchmark). */
  nodeArgs?: string[];
  /** Replicas of the test topics: 1 on the single broker, 3 on a cluster (test/chaos-cluster). */
  replicationFactor?: number;
}

let nextPort = 20_000 + Math.floor(Math.random() * 20_000);

export class Cluster {
  readonly id = uniqueName("t");
  readonly topicPrefix = `${this.id}.`;
  readonly topics = topicNames(this.topicPrefix);
  readonly mongoUrl: string;
  readonly nodes = new Map<string, NodeHandle>();

  constructor(private readonly options: ClusterOptions) {
    this.mongoUrl = withDatabase(options.infra.mongoUrl, this.id);
    mkdirSync(LOG_DIR, { recursive: true });
  }

  kafka(): Kafka {
    return new Kafka({
      clientId: this.id,
      brokers: this.options.infra.kafkaBrokers.split(","),
      logLevel: logLevel.NOTHING,
    });
  }

  async createTopics(): Promise<void> {
    const admin = this.kafka().admin();
    const replicationFactor = this.options.replicationFactor ?? 1;
    await admin.connect();
    try {
      await admin.createTopics({
        waitForLeaders: true,
        topics: [
          { topic: this.topics.orderEvents, numPartitions: 3, replicationFactor },
          { topic: this.topics.paymentEvents, numPartitions: 3, replicationFactor },
          { topic: this.topics.paymentDeadLetters, numPartitions: 1, replicationFactor },
        ],
      });
    } finally {
      await admin.disconnect();
    }
  }

  async deleteTopics(): Promise<void> {
    const admin = this.kafka().admin();
    await admin.connect();
    try {
      await admin.deleteTopics({ topics: Object.values(this.topics), timeout: 10_000 });
    } catch {
      // best effort cleanup
    } finally {
      await admin.disconnect();
    }
  }

  servers(): NodeServers {
    const { infra, userServiceUrl, inventoryServiceUrl } = this.options;
    return { ...infra, mongoUrl: this.mongoUrl, userServiceUrl, inventoryServiceUrl };
  }

  nodeEnv(name: string, port: number, services?: string): Record<string, string> {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/root",
      NODE_ID: `${this.id}-${name}`,
      NAMESPACE: this.id,
      PORT: String(port),
      BIND_ADDRESS: "127.0.0.1",
      NATS_URL: this.options.infra.natsUrl,
      MONGO_URL: this.mongoUrl,
      KAFKA_BROKERS: this.options.infra.kafkaBrokers,
      KAFKA_TOPIC_PREFIX: this.topicPrefix,
      KAFKAJS_NO_PARTITIONER_WARNING: "1",
      JWT_SECRET: TEST_SECRET,
      JWT_ISSUER: TEST_ISSUER,
      JWT_AUDIENCE: TEST_AUDIENCE,
      USER_SERVICE_URL: this.options.userServiceUrl,
      INVENTORY_SERVICE_URL: this.options.inventoryServiceUrl,
      PAYMENT_TIMEOUT_MS: String(this.options.paymentTimeoutMs ?? 30_000),
      LOG_LEVEL: process.env.TEST_NODE_LOG_LEVEL ?? "info",
      RATE_LIMIT_PER_MINUTE: "100000",
      // No load balancer in front of these nodes: SIGTERM stops at once.
      SHUTDOWN_DRAIN_MS: "0",
      ...this.options.extraEnv,
    };
    if (services) env.SERVICES = services;
    return env;
  }

  /** Starts the node, or starts it again (same port, environment and placement) after kill(). */
  async startNode(name: string, services?: string, where?: Placement): Promise<NodeHandle> {
    const existing = this.nodes.get(name);
    const placement = where ?? existing?.placement;
    const port = existing?.port ?? nextPort++;
    const env = existing?.env ?? { ...this.nodeEnv(name, port, services), ...placement?.env };
    const log = createWriteStream(join(LOG_DIR, `${this.id}-${name}.log`), { flags: "a" });
    const args = this.options.nodeArgs ?? ["--import", "tsx", join(ROOT, "index.ts")];
    const [command, ...prefix] = [...(placement?.exec ?? []), process.execPath];
    const child = spawn(command!, [...prefix, ...args], {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    const host = placement?.host ?? "127.0.0.1";
    const handle: NodeHandle = { name, port, url: `http://${host}:${port}`, process: child, env, placement };
    this.nodes.set(name, handle);
    if (!services || services.includes("api")) {
      await eventually(
        async () => {
          if (child.exitCode !== null)
            throw new Error(`node ${name} exited with ${child.exitCode}, see ${LOG_DIR}`);
          const res = await call(handle.url, "GET", "/ready");
          return res.status === 200 ? true : undefined;
        },
        60_000,
        250,
      );
    }
    return handle;
  }

  async kill(name: string, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const node = this.nodes.get(name);
    if (!node || node.process.exitCode !== null) return;
    const exited = new Promise((r) => node.process.once("exit", r));
    node.process.kill(signal);
    const forced = setTimeout(() => node.process.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(forced);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.nodes.keys()].map((n) => this.kill(n, "SIGTERM")));
  }
}
