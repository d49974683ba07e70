// The write fence: of two nodes changing the same order from the same version, exactly one write
// lands, whatever either believes about membership. On FerretDB 1.24 (SQLite) a version-guarded
// update is a read and then a write, so two guarded writes on one version can both pass; the one
// thing the store decides atomically is a single-document insert against the unique `_id`. So
// every change of an order from version v first inserts the claim `<orderId>@<v+1>` into a
// collection of its own: one insert wins, every other gets a duplicate-key error and writes
// nothing. The winner then checks that the order is still at v and writes.
//
// Lifetime: a claim only matters while its version is not yet in the order (claimed, not yet
// written). Once written, the version check refuses any late claimant of an older version, so
// claims are deleted by age (`ttlMs`). A claimant that has held its claim for `ttlMs / 2` (a pause,
// a stalled store) gives its write up instead of writing, so a claim old enough to be deleted is
// never written after the deletion. A claim left by a node that died between claim and write
// blocks that order's next change until the sweep deletes it; the saga's retries carry it over.
// Node clocks must agree to well within ttlMs / 2 (the age is the claimant's wall clock).
//
// On MongoDB the guarded update `{_id, version}` is atomic, so the fence is off there.
import { performance } from "node:perf_hooks";

/** The part of a MongoDB collection the fence uses. */
export interface ClaimCollection {
  insertOne(doc: ClaimDoc): Promise<unknown>;
  findOne(query: { _id: string }): Promise<ClaimDoc | null>;
  deleteMany(filter: Record<string, unknown>): Promise<{ deletedCount?: number }>;
}

export interface ClaimDoc {
  _id: string;
  node: string;
  at: Date;
}

/** A won claim: the right to write `version` of one order, while it is young enough. */
export interface Claim {
  readonly id: string;
  /** Monotonic time (ms) just before the claim was sent. */
  readonly sentAt: number;
}

export interface FenceOptions {
  /** Unique per process (the broker's instance id): a restarted node does not reuse its claims. */
  nodeID: string;
  /** Claims older than this are deleted; a claimant writes only within half of it. */
  ttlMs: number;
  /** Monotonic clock in ms (tests replace it). */
  monotonic?: () => number;
  /** Wall clock (tests replace it). */
  now?: () => Date;
}

export const CLAIMS_COLLECTION = "order_claims";
/** Long enough to cover any pause a node wakes from and still finishes its write. */
export const DEFAULT_CLAIM_TTL_MS = 60_000;

function isDuplicateKey(err: unknown): boolean {
  const e = err as { code?: number } | null;
  return !!e && e.code === 11000;
}

export class WriteFence {
  private readonly monotonic: () => number;
  private readonly now: () => Date;

  constructor(
    private readonly claims: ClaimCollection,
    private readonly options: FenceOptions,
  ) {
    this.monotonic = options.monotonic ?? (() => performance.now());
    this.now = options.now ?? (() => new Date());
  }

  /**
   * Claims the right to write `version` of `orderId`: null when another writer has it. The caller
   * runs one write of an order at a time (the store's per-order queue), so a claim of this very
   * process found here is an orphan of an earlier attempt that failed after its insert (a reply
   * lost to a store restart); young enough, it is taken up again instead of blocking the order
   * until the sweep.
   */
  async claim(orderId: string, version: number): Promise<Claim | null> {
    const id = `${orderId}@${version}`;
    const sentAt = this.monotonic();
    try {
      await this.claims.insertOne({ _id: id, node: this.options.nodeID, at: this.now() });
      return { id, sentAt };
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
    const held = await this.claims.findOne({ _id: id });
    if (held?.node !== this.options.nodeID) return null;
    const age = this.now().getTime() - held.at.getTime();
    if (age < 0 || age >= this.options.ttlMs / 4) return null;
    return { id, sentAt: this.monotonic() - age };
  }

  /** Whether the claim may still be written: young enough that no sweep can have deleted it. */
  holds(claim: Claim): boolean {
    return this.monotonic() - claim.sentAt < this.options.ttlMs / 2;
  }

  /** Deletes the claims older than ttlMs; returns how many. */
  async sweep(): Promise<number> {
    const before = new Date(this.now().getTime() - this.options.ttlMs);
    const { deletedCount } = await this.claims.deleteMany({ at: { $lt: before } });
    return deletedCount ?? 0;
  }
}
