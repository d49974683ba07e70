// The store's write fence as a mixin: the pause guard (lib/view-guard.ts) and, on FerretDB, the
// claims (lib/write-fence.ts). The store calls claimWrite() before a version-guarded write and
// mayWrite() right before sending it; both are the whole hook.
import type { Service, ServiceSchema } from "moleculer";
import type { Config } from "../lib/config";
import { every, type Periodic } from "../lib/periodic";
import { ViewGuard } from "../lib/view-guard";
import { CLAIMS_COLLECTION, type Claim, type ClaimCollection, WriteFence } from "../lib/write-fence";

/** The claim of a write that needs none (MongoDB, NeDB, or the fence switched off). */
const UNFENCED: Claim = { id: "", sentAt: Number.POSITIVE_INFINITY };

export interface WriteFenceVars {
  view?: ViewGuard;
  fence?: WriteFence;
  claimsSweep?: Periodic;
}

/** The store's Mongo adapter: its client and database. */
export interface ClaimsHost {
  client: { db(name: string): { collection(name: string): ClaimCollection } };
  db: { databaseName: string };
}

/**
 * The claims live in a database of their own: on FerretDB's SQLite backend a database is a file
 * with one writer at a time, and writers that collide sleep (1, 2, 5, 10 … ms); in the orders'
 * database every claim would be one more writer in their queue.
 */
export function claimsOf(host: ClaimsHost): ClaimCollection {
  return host.client.db(`${host.db.databaseName}_claims`).collection(CLAIMS_COLLECTION);
}

export interface WriteFenceMethods {
  /**
   * Waits for a current view, then claims `version` of the order (FerretDB). Null: another
   * writer has that version, write nothing.
   */
  claimWrite(orderId: string, version: number): Promise<Claim | null>;
  /** Waits until this node's view of the cluster is current (ViewNotCurrentError after a while). */
  awaitCurrentView(): Promise<void>;
  /** Right before the write is sent: the claim is still young enough to be written. */
  mayWrite(claim: Claim): boolean;
  /** Called by the store once connected: `host` is set on FerretDB, where the fence is needed. */
  enableFence(host: ClaimsHost | undefined): void;
}

type Self = Service & WriteFenceVars & WriteFenceMethods;

interface NatsStatus {
  type: string;
}

/**
 * Moleculer's NATS transporter only logs the client's status changes: a lost connection (pings
 * unanswered) and the reconnect are read here from the client itself.
 */
async function followTransporter(self: Self): Promise<void> {
  const tx = self.broker.transit?.tx as unknown as
    | { client?: { status(): AsyncIterable<NatsStatus> } }
    | undefined;
  const client = tx?.client;
  if (!client || typeof client.status !== "function") return;
  for await (const s of client.status()) {
    if (s.type === "disconnect") self.view?.disconnected();
    else if (s.type === "reconnect") self.view?.connected();
  }
}

export function writeFenceMixin(config: Config): Partial<ServiceSchema> {
  const schema = {
    methods: {
      async claimWrite(this: Self, orderId: string, version: number): Promise<Claim | null> {
        await this.view?.current();
        return this.fence ? this.fence.claim(orderId, version) : UNFENCED;
      },
      async awaitCurrentView(this: Self): Promise<void> {
        await this.view?.current();
      },
      mayWrite(this: Self, claim: Claim): boolean {
        return claim === UNFENCED || !this.fence || this.fence.holds(claim);
      },
      enableFence(this: Self, host: ClaimsHost | undefined): void {
        if (!config.writeFence || !host || this.fence) return;
        const fence = new WriteFence(claimsOf(host), {
          nodeID: `${this.broker.nodeID}/${this.broker.instanceID}`,
          ttlMs: config.claimTtlMs,
        });
        this.fence = fence;
        // Every node sweeps (an idempotent delete by age); a claim lives ttlMs to 1.5 × ttlMs.
        this.claimsSweep = every(config.claimTtlMs / 2, 1, async () => {
          try {
            await fence.sweep();
          } catch (err) {
            this.logger.warn({ error: (err as Error).message }, "write claims not swept, will retry");
          }
        });
      },
    },
    events: {
      "$transporter.disconnected"(this: Self) {
        this.view?.disconnected();
      },
      "$transporter.connected"(this: Self) {
        this.view?.connected();
      },
    },
    started(this: Self) {
      // A single process (no transporter) has no membership to be stale about.
      if (!config.writeFence || !this.broker.transit) return;
      const { heartbeatInterval = 5, heartbeatTimeout = 15 } = this.broker.options;
      // Moleculer stamps heartbeats with Math.round(process.uptime()): a peer is heard from since
      // the view went stale when its stamp is later than the second it went stale in.
      let staleAt = 0;
      const peersHeard = () =>
        this.broker.registry.nodes
          .toArray()
          .every((n) => n.local || !n.available || (n.lastHeartbeatTime ?? 0) > staleAt);
      this.view = new ViewGuard({
        pauseMs: Math.max(1_000, (heartbeatTimeout - heartbeatInterval) * 750),
        // The next heartbeat of this node goes out within interval ± 0.5 s; the others take it
        // back on receipt (an INFO round trip).
        settleMs: (heartbeatInterval + 1) * 1_000,
        peersHeard,
        maxWaitMs: 5_000,
        onStale: (why, gapMs) => {
          staleAt = Math.round(process.uptime());
          this.logger.warn({ why, gapMs }, "view of the cluster not current: writes wait");
        },
      });
      this.view.start();
      void followTransporter(this);
    },
    stopped(this: Self) {
      this.view?.stop();
      this.claimsSweep?.stop();
    },
  };
  // Typed against its own vars inside; the host service sees a plain mixin.
  return schema as unknown as Partial<ServiceSchema>;
}
