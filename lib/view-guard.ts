// A node writes orders only while its view of the cluster is current. Two things make it stale:
// - a pause (SIGSTOP, a GC or VM stall): the other nodes may have declared it dead and taken its
//   orders, while it wakes still hashing them to itself. Detected as a gap in a monotonic tick.
// - a cut from the transporter (NATS): it no longer hears who is alive.
// After either, writes wait until the view is current again on every side: at least settleMs (one
// heartbeat interval and a margin: the others have had this node's next heartbeat and taken it
// back) and until every node this one lists has sent a heartbeat since (or been dropped as dead).
// A write that would wait longer than maxWaitMs fails with a retryable 503; its caller retries. This narrows the window in which two nodes believe
// they own one order; the write fence (lib/write-fence.ts) is what makes that window harmless.
import { performance } from "node:perf_hooks";

export interface ViewGuardOptions {
  /** A tick later than this means the node was paused (less than heartbeatTimeout − interval). */
  pauseMs: number;
  /** How long the view stays stale at least after a pause or a reconnect. */
  settleMs: number;
  /** After settleMs: whether every peer has been heard from since the view went stale. */
  peersHeard?: () => boolean;
  /** How long one write may wait for a current view before it fails. */
  maxWaitMs: number;
  tickMs?: number;
  monotonic?: () => number;
  onStale?: (why: string, gapMs?: number) => void;
}

export class ViewNotCurrentError extends Error {
  readonly code = 503;
  readonly type = "VIEW_NOT_CURRENT";
  readonly retryable = true;
  constructor() {
    super("This node's view of the cluster is not current; retry");
    this.name = "ViewNotCurrentError";
  }
}

export class ViewGuard {
  private readonly monotonic: () => number;
  private readonly tickMs: number;
  private timer: NodeJS.Timeout | undefined;
  private lastTick = 0;
  private staleUntil = 0;
  private cut = false;
  private awaitingPeers = false;

  constructor(private readonly options: ViewGuardOptions) {
    this.monotonic = options.monotonic ?? (() => performance.now());
    this.tickMs = options.tickMs ?? 250;
  }

  start(): void {
    this.lastTick = this.monotonic();
    this.timer = setInterval(() => this.tick(), this.tickMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One tick of the pause detector (public for tests). */
  tick(): void {
    const now = this.monotonic();
    const gap = now - this.lastTick;
    this.lastTick = now;
    if (gap > this.options.pauseMs) {
      this.staleUntil = now + this.options.settleMs;
      this.awaitingPeers = true;
      this.options.onStale?.("paused", Math.round(gap));
    }
  }

  disconnected(): void {
    this.cut = true;
    this.options.onStale?.("transporter disconnected");
  }

  connected(): void {
    if (!this.cut) return;
    this.cut = false;
    this.staleUntil = this.monotonic() + this.options.settleMs;
    this.awaitingPeers = true;
    this.options.onStale?.("transporter reconnected");
  }

  isCurrent(): boolean {
    // A pause that has not been ticked yet is seen here too: the tick is overdue.
    if (this.monotonic() - this.lastTick > this.options.pauseMs) this.tick();
    if (this.cut || this.monotonic() < this.staleUntil) return false;
    if (this.awaitingPeers && this.options.peersHeard && !this.options.peersHeard()) return false;
    this.awaitingPeers = false;
    return true;
  }

  /** Resolves once the view is current; throws ViewNotCurrentError after maxWaitMs. */
  async current(): Promise<void> {
    if (this.isCurrent()) return;
    const giveUpAt = this.monotonic() + this.options.maxWaitMs;
    while (!this.isCurrent()) {
      if (this.monotonic() >= giveUpAt) throw new ViewNotCurrentError();
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
