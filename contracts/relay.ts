// The outbox relay's contract (service `outbox-relay`).
import type { OutboxEntry } from "../lib/order-record";

export interface RelayParams {
  id: string;
  entries: OutboxEntry[];
}

export interface RelayStatus {
  kind: "kafka" | "memory";
  health: { connected: boolean; detail?: string };
  published: number;
  queued: number;
}
