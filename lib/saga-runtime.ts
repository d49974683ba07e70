// Executes a saga definition (domain/place-order.saga.ts): runs its steps, is the one place that
// runs compensations, and owns every timer, retry and sweep. Deadlines are durable: the node that
// owns an order (the one its writes go to) arms its deadline when the order is written, and arms
// every owned PENDING order when it starts or when ownership moves; the leader's periodic sweep is
// the backstop. The saga service is a thin adapter around it.
import type { Context, ServiceBroker } from "moleculer";
import { Errors } from "moleculer";
import {
  type GetParams,
  type InsertResult,
  ORDER_STORE,
  type WriteParams,
  type WriteResult,
} from "../contracts/order-store";
import type { RelayParams } from "../contracts/relay";
import { type Backoff, backoffDelay } from "../domain/backoff";
import type { Decision, Order } from "../domain/order";
import { createOrder, paymentDueAt } from "../domain/order";
import {
  type Command,
  compensationsOf,
  decide,
  isFailure,
  type PlaceOrderState,
  placeOrderSaga,
  type RecordStep,
  type SagaFailure,
} from "../domain/place-order.saga";
import { businessMetrics } from "./business-metrics";
import { systemSource } from "./clock";
import { isLeader, ownerOf, toOwner } from "./order-owner";
import { type OrderRecord, outboxEntries } from "./order-record";
import { every, type Periodic, PHASE } from "./periodic";
import { traceParentOf } from "./trace";

export interface RuntimeSettings {
  paymentTimeoutMs: number;
  sweepIntervalMs: number;
  /** A cancelled order whose compensation has not landed after this long is compensated again by the sweep. */
  compensationGraceMs: number;
  /** In-memory retries (deadlines, compensations); after `maxRetries` the sweep takes over. */
  retry: Backoff;
  maxRetries: number;
}

export interface Trace {
  correlationId: string;
  traceParent?: string;
}

export interface NewOrder extends Trace {
  orderId: string;
  userId: string;
  items: PlaceOrderState["items"];
  currency: string;
  idempotencyKey?: string;
}

export type PlaceResult = { failure: SagaFailure } | InsertResult;

const saga = placeOrderSaga;
const compensations = compensationsOf(saga.steps);
const recordStep = saga.steps.find((s): s is RecordStep => s.kind === "record")!;

/** The participant is down, slow or its circuit is open: the step's `whenUnavailable` applies. */
function isUnavailable(err: unknown): boolean {
  const e = err as { code?: number; name?: string };
  return (
    e?.code === 502 ||
    e?.code === 503 ||
    e?.code === 504 ||
    e?.name === "ServiceNotAvailableError" ||
    e?.name === "RequestTimeoutError" ||
    e?.name === "ServiceNotFoundError"
  );
}

const stateOf = (order: Order): PlaceOrderState => ({
  orderId: order.id,
  userId: order.userId,
  items: order.items,
  currency: order.currency,
  userVerified: order.userVerified,
});

/** When a deadline's timer fires: just after it is due (at once if it is past). */
const firesAt = (due: string): number => Math.max(Date.now(), Date.parse(due)) + 10;

export class SagaRuntime {
  /** Armed deadlines: the timer and when it fires (ms since the epoch). */
  private readonly deadlines = new Map<string, { timer: NodeJS.Timeout; dueMs: number }>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private sweepTimer?: Periodic;
  private sweeping = false;
  private running = false;
  /** The definition's wait before an unwritten order's reservation is compensated (tests shorten it). */
  unwrittenGraceMs = recordStep.whenFailed.compensateUnlessWrittenAfterMs;

  constructor(
    private readonly broker: ServiceBroker,
    private readonly logger: ServiceBroker["logger"],
    private readonly settings: RuntimeSettings,
  ) {}

  // ---- the forward steps ----------------------------------------------------------------

  /** Runs the steps up to the written order; a failure leaves nothing behind. */
  async place(ctx: Context, input: NewOrder): Promise<PlaceResult> {
    let state: PlaceOrderState = { ...input, userVerified: false };
    // Temporal's rule: a step's compensation is registered before its call returns, since a
    // call that timed out may still have landed.
    let attempted = 0;
    const fail = async (failure: SagaFailure) => {
      await this.compensate(ctx, state, attempted).catch(() => undefined);
      return { failure };
    };
    for (const step of saga.steps) {
      if (step.kind === "record") return this.record(ctx, state, input);
      if (step.kind !== "invoke") break;
      if (step.compensation) attempted++;
      let reply: unknown;
      try {
        reply = await ctx.call(step.invoke.action, step.invoke.params(state));
      } catch (err) {
        if (!isUnavailable(err)) {
          await this.compensate(ctx, state, attempted).catch(() => undefined);
          throw err;
        }
        this.logger.warn(
          { orderId: input.orderId, step: step.name, error: (err as Error).name },
          "participant unavailable",
        );
        if ("fail" in step.whenUnavailable) return fail(step.whenUnavailable.fail);
        state = step.whenUnavailable.continueWith(state);
        continue;
      }
      const next = step.onReply ? step.onReply(state, reply) : state;
      if (isFailure(next)) return fail(next);
      state = next;
    }
    throw new Error(`saga ${saga.name} has no record step`);
  }

  private async record(ctx: Context, state: PlaceOrderState, input: NewOrder): Promise<InsertResult> {
    const { order, events } = createOrder(
      { items: state.items, currency: state.currency },
      {
        orderId: state.orderId,
        userId: state.userId,
        userVerified: state.userVerified,
        correlationId: input.correlationId,
        paymentTimeoutMs: this.settings.paymentTimeoutMs,
        ...(input.idempotencyKey ? { idempotencyKey: input.idempotencyKey } : {}),
      },
      systemSource(),
    );
    const record: OrderRecord = { order, outbox: outboxEntries(events, input) };
    try {
      const result = await ctx.call<InsertResult, { record: OrderRecord }>(
        `${ORDER_STORE}.insert`,
        { record },
        toOwner(this.broker, order.id),
      );
      if (result.created) businessMetrics(this.broker).transitions.inc({ to: "PENDING" });
      return result;
    } catch (err) {
      // The write may still land, or a client retrying with the same key may write the order:
      // the store decides, after a while.
      this.later(this.unwrittenGraceMs, () =>
        this.compensateUnlessWritten(state).catch(() =>
          this.retry(
            () => this.compensateUnlessWritten(state),
            () =>
              this.logger.error(
                { orderId: state.orderId },
                "reservation of an order that was never written is still held",
              ),
          ),
        ),
      );
      throw err;
    }
  }

  // ---- the written order -----------------------------------------------------------------

  /** Read, decide, write guarded by version; on a lost race read again and decide again. */
  async handle(ctx: Context, orderId: string, command: Command, given: Trace) {
    // A deadline, a sweep or a retry starts its own trace: no request is behind it.
    const traceParent = given.traceParent ?? traceParentOf(ctx);
    const trace: Trace = traceParent ? { ...given, traceParent } : given;
    let known: OrderRecord | null | undefined;
    for (let attempt = 0; attempt < 20; attempt++) {
      const record =
        known !== undefined
          ? known
          : await ctx.call<OrderRecord | null, GetParams>(
              `${ORDER_STORE}.get`,
              { id: orderId, fresh: attempt > 0 },
              toOwner(this.broker, orderId),
            );
      if (!record) return { record: null, decision: null };
      const source = systemSource();
      const decision = decide(record.order, command, source);
      if (decision.kind !== "apply") return { record, decision };
      const result = await ctx.call<WriteResult, WriteParams>(
        `${ORDER_STORE}.write`,
        {
          current: record,
          change: decision.change,
          queued: outboxEntries(decision.change.events, trace),
          at: source.now.toISOString(),
        },
        toOwner(this.broker, orderId),
      );
      if (result.written) {
        this.applied(ctx, record.order, result.record.order, decision, trace);
        if (decision.change.compensate) {
          const order = result.record.order;
          await this.compensateOrder(ctx, order).catch((err: Error) => {
            this.logger.warn({ orderId, error: err.message }, "compensation failed, retrying");
            this.retry(
              () => this.compensateOrder(this.newContext(), order),
              () => this.requestSweep(),
            );
          });
        }
        return { record: result.record, decision };
      }
      known = result.current;
    }
    throw new Errors.MoleculerRetryableError("Order is being changed concurrently, retry", 409, "CONFLICT");
  }

  /** The one call site of the saga's compensations: the completed steps' undo, last first. */
  private async compensate(
    ctx: Context,
    state: PlaceOrderState,
    steps = compensations.length,
  ): Promise<void> {
    for (const call of compensations.slice(compensations.length - steps)) {
      await ctx.call(call.action, call.params(state));
    }
  }

  private async compensateOrder(ctx: Context, order: Order): Promise<void> {
    await this.compensate(ctx, stateOf(order));
    await this.handle(ctx, order.id, { type: "compensated" }, { correlationId: order.correlationId });
  }

  /** After a failed insert: an order that never got written gives its reservation back. */
  private async compensateUnlessWritten(state: PlaceOrderState): Promise<void> {
    const ctx = this.newContext();
    const written = await ctx.call<OrderRecord | null, GetParams>(
      `${ORDER_STORE}.get`,
      { id: state.orderId, fresh: true },
      toOwner(this.broker, state.orderId),
    );
    // Written after all: its owner armed its deadline when the write landed.
    if (written) return;
    await this.compensate(ctx, state);
    this.logger.warn({ orderId: state.orderId }, "order not written: its reservation was released");
  }

  private applied(ctx: Context, before: Order, after: Order, decision: Decision, trace: Trace): void {
    if (decision.kind !== "apply") return;
    const events = decision.change.events.map((e) => e.type);
    const metrics = businessMetrics(this.broker);
    if (after.status !== before.status) {
      metrics.transitions.inc({ to: after.status });
      const seconds = (Date.parse(after.updatedAt) - Date.parse(after.createdAt)) / 1000;
      metrics.sagaDuration.observe({ outcome: after.status }, seconds);
      if (after.status === "CANCELLED") metrics.compensations.inc({ reason: after.reason ?? "unknown" });
    }
    for (const e of decision.change.events) if (e.type === "RefundRequested") metrics.refunds.inc();
    this.logger.info(
      {
        orderId: after.id,
        correlationId: trace.correlationId,
        traceId: ctx.requestID,
        from: before.status,
        to: after.status,
        reason: after.reason,
        events,
      },
      "saga step applied",
    );
  }

  // ---- deadlines ---------------------------------------------------------------------------

  /** The store on this node wrote an order: arm its deadline while it is PENDING, drop it after. */
  onWritten(order: Order): void {
    if (order.status !== "PENDING") {
      this.clearDeadline(order.id);
      return;
    }
    // Due once published; until then, look again after a whole window. A timer already armed
    // as early or earlier stays: when it fires, the order's own due time decides (not due yet:
    // armed again for it), so the publication mark, which moves the due time a few ms later,
    // costs no second timer.
    const due = paymentDueAt(order) ?? new Date(Date.now() + this.settings.paymentTimeoutMs).toISOString();
    const armed = this.deadlines.get(order.id);
    if (armed && armed.dueMs <= firesAt(due)) return;
    this.armDeadline(order.id, due, order.correlationId);
  }

  private armDeadline(orderId: string, due: string, correlationId: string, attempt = 0): void {
    if (!this.running) return;
    this.clearDeadline(orderId);
    const dueMs = firesAt(due);
    const timer = setTimeout(() => {
      this.deadlines.delete(orderId);
      void this.enforceDeadline(orderId, correlationId, attempt);
    }, dueMs - Date.now());
    timer.unref();
    this.deadlines.set(orderId, { timer, dueMs });
  }

  private clearDeadline(orderId: string): void {
    clearTimeout(this.deadlines.get(orderId)?.timer);
    this.deadlines.delete(orderId);
  }

  private async enforceDeadline(orderId: string, correlationId: string, attempt: number): Promise<void> {
    // A deadline starts its own trace: no request is behind it.
    const ctx = this.newContext();
    try {
      const { decision } = await this.handle(ctx, orderId, { type: "deadline" }, { correlationId });
      if (decision?.kind === "ignore" && decision.why === "not-due" && decision.dueAt)
        this.armDeadline(orderId, decision.dueAt, correlationId);
    } catch (err) {
      this.logger.warn(
        { orderId, error: (err as Error).message, attempt },
        "deadline handling failed, retrying",
      );
      if (attempt >= this.settings.maxRetries) return this.requestSweep();
      const retryAt = new Date(Date.now() + backoffDelay(this.settings.retry, attempt + 1)).toISOString();
      this.armDeadline(orderId, retryAt, correlationId, attempt + 1);
    }
  }

  /**
   * Arms the deadline of every PENDING order this node owns and drops those it no longer owns:
   * at start and whenever nodes come or go (ownership moves with membership).
   */
  async armOwned(): Promise<void> {
    if (!this.running) return;
    const pending = await this.broker.call<OrderRecord[], { limit: number }>(
      `${ORDER_STORE}.pending`,
      { limit: 10_000 },
      // A scan, not a request: on FerretDB's SQLite backend it reads every order (docs/infra.md).
      { timeout: 0 },
    );
    const owned = new Set<string>();
    for (const { order } of pending) {
      if (ownerOf(this.broker, order.id) !== this.broker.nodeID) continue;
      owned.add(order.id);
      if (!this.deadlines.has(order.id)) this.onWritten(order);
    }
    for (const id of this.deadlines.keys()) if (!owned.has(id)) this.clearDeadline(id);
  }

  // ---- the backstop sweep ------------------------------------------------------------------

  /**
   * What no node holds in memory any more: deadlines and compensations of sagas whose node died
   * or gave up retrying. One node scans (the leader), in one query.
   */
  async sweep(force = false): Promise<boolean> {
    if (this.sweeping) return false;
    if (!force && !isLeader(this.broker, "saga.sweepNow")) return true;
    this.sweeping = true;
    try {
      const now = Date.now();
      const ctx = this.newContext();
      const found = await ctx.call<OrderRecord[], { dueBefore: string; limit: number }>(
        `${ORDER_STORE}.needingRecovery`,
        { dueBefore: new Date(now).toISOString(), limit: 400 },
        // A scan, not a request: lib/periodic.ts spaces the scans by their cost.
        { timeout: 0 },
      );
      for (const { order } of found) {
        if (order.status === "PENDING") {
          await this.handle(ctx, order.id, { type: "deadline" }, { correlationId: order.correlationId });
        } else if (
          order.stockHeld &&
          now - Date.parse(order.updatedAt) >= this.settings.compensationGraceMs
        ) {
          await this.compensateOrder(ctx, order);
        }
      }
      return true;
    } catch (err) {
      this.logger.warn({ error: (err as Error).message }, "saga sweep failed, will retry");
      return false;
    } finally {
      this.sweeping = false;
    }
  }

  /** This node gave up retrying something in memory: one sweep, on any node, now. */
  private requestSweep(): void {
    this.retry(async () => {
      const { swept } = await this.broker.call<{ swept: boolean }>("saga.sweepNow");
      if (!swept) throw new Error("sweep busy");
    });
  }

  // ---- operators ---------------------------------------------------------------------------

  /** Pushes one saga forward again: relays its events, enforces its deadline, compensates it. */
  async redrive(ctx: Context, orderId: string): Promise<string[] | null> {
    const record = await ctx.call<OrderRecord | null, GetParams>(
      `${ORDER_STORE}.get`,
      { id: orderId, fresh: true },
      toOwner(this.broker, orderId),
    );
    if (!record) return null;
    const { order, outbox } = record;
    const done: string[] = [];
    if (outbox.length > 0) {
      await ctx.call<boolean, RelayParams>(
        "outbox-relay.relay",
        { id: order.id, entries: outbox },
        toOwner(this.broker, order.id),
      );
      done.push(`relaying ${outbox.length} event(s)`);
    }
    if (order.status === "PENDING") {
      const { decision } = await this.handle(
        ctx,
        order.id,
        { type: "deadline" },
        { correlationId: order.correlationId },
      );
      done.push(
        decision?.kind === "apply" ? "deadline passed: compensated" : "still within its payment deadline",
      );
    } else if (order.stockHeld) {
      await this.compensateOrder(ctx, order);
      done.push("stock released");
    }
    return done;
  }

  // ---- timers ------------------------------------------------------------------------------

  /** Runs `task` again with backoff until it succeeds; after maxRetries, `giveUp`. */
  private retry(task: () => Promise<unknown>, giveUp: () => void = () => undefined, attempt = 1): void {
    if (attempt > this.settings.maxRetries) {
      giveUp();
      return;
    }
    this.later(backoffDelay(this.settings.retry, attempt), () =>
      task().catch(() => this.retry(task, giveUp, attempt + 1)),
    );
  }

  /** An in-memory timer: cleared when the runtime stops, forgotten once it has run. */
  private later(delayMs: number, task: () => unknown): void {
    if (!this.running) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void task();
    }, delayMs);
    timer.unref();
    this.timers.add(timer);
  }

  private newContext(): Context {
    return this.broker.ContextFactory.create(this.broker) as Context;
  }

  start(): void {
    this.running = true;
    this.sweepTimer = every(this.settings.sweepIntervalMs, PHASE.recoverySweep, () => this.sweep());
    void this.resume();
  }

  /** Ownership may have moved (a node came or went): re-arm what this node owns now. */
  membershipChanged(nodeLeft: boolean): void {
    this.later(1_000, async () => {
      await this.armOwned().catch((err: Error) =>
        this.logger.warn({ error: err.message }, "re-arming deadlines failed"),
      );
      // Its compensations in flight died with it: the leader scans.
      if (nodeLeft) await this.sweep();
    });
  }

  private async resume(): Promise<void> {
    await this.armOwned().catch((err: Error) => {
      this.logger.warn({ error: err.message }, "arming deadlines at start failed, retrying");
      this.retry(
        () => this.armOwned(),
        () => this.requestSweep(),
      );
    });
    await this.sweep();
  }

  stop(): void {
    this.running = false;
    this.sweepTimer?.stop();
    for (const { timer } of this.deadlines.values()) clearTimeout(timer);
    this.deadlines.clear();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}
