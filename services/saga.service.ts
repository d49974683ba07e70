// The saga orchestrator. placeOrder runs the synchronous steps (user check, stock reservation)
// and writes the order PENDING with its OrderCreated event in one document write (outbox).
// Payment results, deadlines and cancellations go through domain/order.ts's decide(); every
// write is guarded by the version read, so several saga nodes never apply a step twice.
import { randomUUID } from "node:crypto";
import type { Context, ServiceSchema } from "moleculer";
import { Errors } from "moleculer";
import type { OrderItem, PaymentEvent } from "../domain/events";
import {
  type Command,
  checkNewOrder,
  createOrder,
  decide,
  type Order,
  type OrderView,
  orderIdFor,
  requestHash,
  toView,
} from "../domain/order";
import { INVENTORY_RETRY_AFTER_SECONDS, type UserCheck, userFallback } from "../domain/resilience";
import { businessMetrics } from "../lib/business-metrics";
import type { Config } from "../lib/config";
import { isLeader, toOwner } from "../lib/order-owner";
import { every, type Periodic, PHASE } from "../lib/periodic";
import { traceParentOf } from "../lib/trace";
import { breakerViewMixin } from "../mixins/breaker-view.mixin";
import type { RequestMeta } from "../types/moleculer";
import type {
  ApplyChangeParams,
  ApplyResult,
  GetParams,
  InsertResult,
  OutboxRelayParams,
  ScanParams,
} from "./orders.service";

export interface SagaSettings {
  paymentTimeoutMs: number;
  sweepIntervalMs: number;
  /** A cancelled order whose release has not landed after this long is released again by the sweep. */
  releaseGraceMs: number;
  /** After a failed insert, how long the order may still appear before its reservation is released. */
  unwrittenReleaseDelayMs: number;
  /** First delay of the in-memory retries (deadlines, releases, requested sweeps); doubles up to 30 s. */
  retryBaseMs: number;
}

export interface PlaceOrderParams {
  items: OrderItem[];
  currency: string;
}
export interface CancelOrderParams {
  id: string;
}
export interface ApplyPaymentParams {
  event: PaymentEvent;
  correlationId?: string;
  traceParent?: string;
}
export interface ForceCancelParams {
  id: string;
}

export type PaymentOutcome =
  | { outcome: "applied"; status: Order["status"] }
  | { outcome: "ignored"; why: string }
  | { outcome: "rejected"; why: string };

interface SagaVars {
  sweepTimer?: Periodic;
  sweeping: boolean;
  /** Deadlines of the sagas this node started; the sweep covers those of nodes that died. */
  deadlines: Map<string, NodeJS.Timeout>;
  /** Pending in-memory retries (stock releases, post-failure sweeps). */
  retries: Set<NodeJS.Timeout>;
  /** A sweep asked for because this node gave something up; retried until one succeeds. */
  sweepRequest?: NodeJS.Timeout;
  running: boolean;
}

/** Failed deadline writes and stock releases are retried in memory this many times. */
const IN_MEMORY_RETRIES = 8;
const retryDelayMs = (attempt: number, baseMs: number) => Math.min(30_000, baseMs * 2 ** attempt);

interface SagaMethods {
  orderFor(ctx: Context<unknown, RequestMeta>, existing: Order, hash: string): OrderView;
  runCommand(
    ctx: Context,
    orderId: string,
    command: (order: Order) => Command,
    trace: { correlationId: string; traceParent?: string },
  ): Promise<{ order: Order | null; decision: ReturnType<typeof decide> | null }>;
  releaseStock(ctx: Context, orderId: string): Promise<void>;
  sweep(force?: boolean): Promise<boolean>;
  requestSweep(attempt: number): void;
  armDeadline(orderId: string, deadline: string, correlationId: string, attempt?: number): void;
  releaseLater(orderId: string, attempt: number): void;
  releaseUnlessWritten(orderId: string, attempt: number): void;
  later(delayMs: number, task: () => void): void;
  recordMetrics(before: Order, after: Order): void;
  checkUser(ctx: Context, userId: string): Promise<UserCheck>;
}

type SagaSchema = ServiceSchema<SagaSettings, SagaMethods & Record<string, never>, SagaVars>;

const item = {
  type: "object",
  strict: "remove",
  props: {
    productId: { type: "string", min: 1, max: 64, pattern: /^[A-Za-z0-9._:-]+$/ },
    quantity: { type: "number", integer: true, min: 1, max: 1000 },
    unitPrice: { type: "number", integer: true, min: 0, max: 100_000_000 },
  },
};

function isUnavailable(err: unknown): boolean {
  const e = err as { code?: number; type?: string; name?: string };
  return (
    e?.code === 503 ||
    e?.code === 502 ||
    e?.code === 504 ||
    e?.name === "ServiceNotAvailableError" ||
    e?.name === "RequestTimeoutError" ||
    e?.name === "ServiceNotFoundError"
  );
}

export function sagaService(config: Config): SagaSchema {
  return {
    name: "saga",
    // The saga is the caller of the proxies, so the breakers it sees are the ones that matter.
    mixins: [breakerViewMixin()],
    dependencies: ["orders"],
    settings: {
      paymentTimeoutMs: config.paymentTimeoutMs,
      sweepIntervalMs: config.sagaSweepIntervalMs,
      releaseGraceMs: 5_000,
      unwrittenReleaseDelayMs: 5_000,
      retryBaseMs: 500,
    },

    actions: {
      placeOrder: {
        params: {
          items: { type: "array", min: 1, max: 100, items: item },
          currency: { type: "string", length: 3, pattern: /^[A-Z]{3}$/ },
          // Fields a client may try to set; they are dropped, never applied.
          $$strict: "remove",
        },
        async handler(ctx: Context<PlaceOrderParams, RequestMeta>): Promise<OrderView> {
          const user = ctx.meta.user;
          if (!user) throw new Errors.MoleculerClientError("Authentication required", 401, "UNAUTHORIZED");
          const input = { items: ctx.params.items, currency: ctx.params.currency };
          const problems = checkNewOrder(input);
          if (problems.length) {
            throw new Errors.ValidationError("Invalid order", "VALIDATION_ERROR", problems);
          }
          const key = ctx.meta.idempotencyKey;
          const orderId = orderIdFor(user.id, key, randomUUID);
          const hash = requestHash(input);
          if (key) {
            const existing = await ctx.call<Order | null, GetParams>(
              "orders.get",
              { id: orderId },
              toOwner(this.broker, orderId),
            );
            if (existing) return this.orderFor(ctx, existing, hash);
          }

          const userCheck = await this.checkUser(ctx, user.id);
          const { proceed, userVerified } = userFallback(userCheck);
          if (!proceed)
            throw new Errors.MoleculerClientError("User may not place orders", 403, "USER_REFUSED");

          try {
            await ctx.call("inventory-proxy.reserve", { orderId, items: input.items });
          } catch (err) {
            if (!isUnavailable(err)) throw err;
            // The reservation may have landed before the failure: give it back before answering,
            // so that a client retrying with the same key cannot race this release.
            await ctx.call("inventory-proxy.release", { orderId }).catch(() => undefined);
            throw new Errors.MoleculerError(
              "Inventory is unavailable, try again later",
              503,
              "INVENTORY_UNAVAILABLE",
              {
                retryAfter: INVENTORY_RETRY_AFTER_SECONDS,
              },
            );
          }

          const correlationId = ctx.meta.correlationId ?? ctx.requestID ?? orderId;
          const order = createOrder(input, {
            orderId,
            userId: user.id,
            userVerified,
            idempotencyKey: key,
            correlationId,
            traceParent: ctx.meta.traceParent ?? traceParentOf(ctx),
            paymentTimeoutMs: this.settings.paymentTimeoutMs,
            now: new Date(),
          });
          // Written on its owner node, whose relay then sends OrderCreated.
          let result: InsertResult;
          try {
            result = await ctx.call<InsertResult, { order: Order }>(
              "orders.insertNew",
              { order },
              toOwner(this.broker, orderId),
            );
          } catch (err) {
            // Without the order nothing would ever release this reservation.
            this.releaseUnlessWritten(orderId, 0);
            throw err;
          }
          if (!result.created) return this.orderFor(ctx, result.existing, hash);
          this.armDeadline(orderId, order.paymentDeadline, correlationId);
          businessMetrics(this.broker).transitions.inc({ to: "PENDING" });
          this.logger.info(
            {
              orderId,
              correlationId,
              traceId: ctx.requestID,
              userId: user.id,
              userVerified,
              total: order.total,
            },
            "order accepted",
          );
          ctx.meta.$statusCode = 202;
          ctx.meta.$responseHeaders = { Location: `/api/v1/orders/${orderId}` };
          return toView(result.order);
        },
      },

      cancelOrder: {
        params: { id: { type: "string", min: 1, max: 64 }, $$strict: "remove" },
        async handler(ctx: Context<CancelOrderParams, RequestMeta>): Promise<OrderView> {
          const user = ctx.meta.user;
          if (!user) throw new Errors.MoleculerClientError("Authentication required", 401, "UNAUTHORIZED");
          const { order, decision } = await this.runCommand(
            ctx,
            ctx.params.id,
            () => ({ type: "cancel", by: "owner", userId: user.id, now: new Date() }),
            {
              correlationId: ctx.meta.correlationId ?? ctx.requestID ?? ctx.params.id,
              traceParent: traceParentOf(ctx),
            },
          );
          if (!order || (decision?.kind === "reject" && decision.why === "not-owner")) {
            throw new Errors.MoleculerClientError("Order not found", 404, "NOT_FOUND");
          }
          if (decision?.kind === "reject") {
            throw new Errors.MoleculerClientError(
              `Order is ${order.status}, only PENDING orders can be cancelled`,
              409,
              "NOT_CANCELLABLE",
            );
          }
          return toView(order);
        },
      },

      applyPayment: {
        visibility: "public",
        async handler(ctx: Context<ApplyPaymentParams>): Promise<PaymentOutcome> {
          const { event } = ctx.params;
          const { order, decision } = await this.runCommand(
            ctx,
            event.orderId,
            () => ({ type: "payment", event }),
            {
              correlationId: ctx.params.correlationId ?? event.orderId,
              traceParent: traceParentOf(ctx) ?? ctx.params.traceParent,
            },
          );
          if (!order || !decision) return { outcome: "rejected", why: "unknown-order" };
          if (decision.kind === "reject") return { outcome: "rejected", why: decision.why };
          if (decision.kind === "ignore") return { outcome: "ignored", why: decision.why };
          return { outcome: "applied", status: order.status };
        },
      },

      forceCancel: {
        visibility: "public",
        params: { id: { type: "string", min: 1, max: 64 } },
        async handler(ctx: Context<ForceCancelParams>) {
          const { order, decision } = await this.runCommand(
            ctx,
            ctx.params.id,
            () => ({ type: "cancel", by: "operator", now: new Date() }),
            { correlationId: `operator-${ctx.params.id}`, traceParent: traceParentOf(ctx) },
          );
          return { found: !!order, decision: decision?.kind ?? "none", status: order?.status };
        },
      },

      /** Operator: push one saga forward again: relay its events, enforce its deadline, release its stock. */
      redrive: {
        visibility: "public",
        params: { id: { type: "string", min: 1, max: 64 } },
        async handler(ctx: Context<ForceCancelParams>) {
          const order = await ctx.call<Order | null, GetParams>("orders.get", {
            id: ctx.params.id,
            fresh: true,
          });
          if (!order) throw new Errors.MoleculerClientError("Order not found", 404, "NOT_FOUND");
          const done: string[] = [];
          if (order.outboxPending > 0) {
            await ctx.call("kafka-bridge.relay", {
              id: order._id,
              entries: order.outbox,
            } satisfies OutboxRelayParams);
            done.push(`relaying ${order.outboxPending} event(s)`);
          }
          if (order.status === "PENDING") {
            const { decision } = await this.runCommand(
              ctx,
              order._id,
              () => ({ type: "deadline", now: new Date() }),
              { correlationId: order.correlationId, traceParent: traceParentOf(ctx) },
            );
            done.push(
              decision?.kind === "apply"
                ? "deadline passed: compensated"
                : "still within its payment deadline",
            );
          }
          if (order.status === "CANCELLED" && order.stockHeld) {
            await this.releaseStock(ctx, order._id);
            done.push("stock released");
          }
          return { id: order._id, done };
        },
      },

      sweepNow: {
        visibility: "public",
        async handler() {
          return { swept: await this.sweep(true) };
        },
      },
    },

    methods: {
      orderFor(ctx: Context<unknown, RequestMeta>, existing: Order, hash: string): OrderView {
        if (existing.requestHash !== hash || existing.userId !== ctx.meta.user?.id) {
          throw new Errors.MoleculerClientError(
            "Idempotency-Key was already used with a different request",
            422,
            "IDEMPOTENCY_KEY_REUSED",
          );
        }
        ctx.meta.$statusCode = 200;
        ctx.meta.$responseHeaders = {
          "Idempotent-Replayed": "true",
          Location: `/api/v1/orders/${existing._id}`,
        };
        return toView(existing);
      },

      async checkUser(ctx: Context, userId: string): Promise<UserCheck> {
        try {
          return await ctx.call<UserCheck, { id: string }>("user-proxy.check", { id: userId });
        } catch (err) {
          if (isUnavailable(err)) {
            this.logger.warn(
              { userId, traceId: ctx.requestID, error: (err as Error).name },
              "user check unavailable, continuing unverified",
            );
            return { kind: "unavailable" };
          }
          throw err;
        }
      },

      /** Read, decide, write guarded by version; on a lost race read again and decide again. */
      async runCommand(
        ctx: Context,
        orderId: string,
        command: (order: Order) => Command,
        trace: { correlationId: string; traceParent?: string },
      ) {
        let known: Order | null | undefined;
        for (let attempt = 0; attempt < 20; attempt++) {
          // The owner's cached copy first; after a lost race, the store's.
          const order =
            known !== undefined
              ? known
              : await ctx.call<Order | null, GetParams>(
                  "orders.get",
                  { id: orderId, fresh: attempt > 0 },
                  toOwner(this.broker, orderId),
                );
          if (!order) return { order: null, decision: null };
          const decision = decide(order, command(order));
          if (decision.kind !== "apply") return { order, decision };
          const result = await ctx.call<ApplyResult, ApplyChangeParams>(
            "orders.applyChange",
            { current: order, change: decision.change, trace },
            toOwner(this.broker, orderId),
          );
          if (result.applied) {
            this.recordMetrics(order, result.order);
            this.logger.info(
              {
                orderId,
                correlationId: trace.correlationId,
                traceId: ctx.requestID,
                from: order.status,
                to: result.order.status,
                reason: result.order.reason,
                events: decision.change.events.map((e) => e.type),
              },
              "saga step applied",
            );
            if (result.order.status !== "PENDING") {
              clearTimeout(this.deadlines.get(orderId));
              this.deadlines.delete(orderId);
            }
            if (decision.change.releaseStock) {
              await this.releaseStock(ctx, orderId).catch((err: Error) => {
                this.logger.warn({ orderId, error: err.message }, "stock release failed, retrying later");
                this.releaseLater(orderId, 0);
              });
            }
            return { order: result.order, decision };
          }
          known = result.current;
        }
        throw new Errors.MoleculerRetryableError(
          "Order is being changed concurrently, retry",
          409,
          "CONFLICT",
        );
      },

      async releaseStock(ctx: Context, orderId: string): Promise<void> {
        await ctx.call("inventory-proxy.release", { orderId });
        await ctx.call("orders.markStockReleased", { id: orderId }, toOwner(this.broker, orderId));
      },

      recordMetrics(before: Order, after: Order) {
        const metrics = businessMetrics(this.broker);
        if (after.status !== before.status) {
          metrics.transitions.inc({ to: after.status });
          const seconds = (Date.parse(after.updatedAt) - Date.parse(after.createdAt)) / 1000;
          metrics.sagaDuration.observe({ outcome: after.status }, seconds);
          if (after.status === "CANCELLED") metrics.compensations.inc({ reason: after.reason ?? "unknown" });
        }
        if (after.refund && !before.refund) metrics.refunds.inc();
      },

      armDeadline(orderId: string, deadline: string, correlationId: string, attempt = 0) {
        // Stopped: what is left is in the store, for the next node's sweep.
        if (!this.running) return;
        const timer = setTimeout(
          () => {
            this.deadlines.delete(orderId);
            const ctx: Context = this.broker.ContextFactory.create(this.broker);
            // A deadline starts its own trace: no request is behind it.
            this.runCommand(ctx, orderId, () => ({ type: "deadline", now: new Date() }), {
              correlationId,
              traceParent: traceParentOf(ctx),
            }).catch((err: Error) => {
              // Retried here rather than left to the sweep, which is rare (a full scan on FerretDB).
              const retryAt = new Date(
                Date.now() + retryDelayMs(attempt, this.settings.retryBaseMs),
              ).toISOString();
              this.logger.warn(
                { orderId, error: err.message, attempt },
                "deadline handling failed, retrying",
              );
              if (attempt < IN_MEMORY_RETRIES) this.armDeadline(orderId, retryAt, correlationId, attempt + 1);
              else this.requestSweep(0);
            });
          },
          Math.max(0, Date.parse(deadline) - Date.now()) + 10,
        );
        timer.unref();
        this.deadlines.set(orderId, timer);
      },

      releaseLater(orderId: string, attempt: number) {
        if (!this.running) return;
        if (attempt >= IN_MEMORY_RETRIES) {
          this.requestSweep(0);
          return;
        }
        this.later(retryDelayMs(attempt, this.settings.retryBaseMs), () => {
          const ctx: Context = this.broker.ContextFactory.create(this.broker);
          this.releaseStock(ctx, orderId).catch(() => this.releaseLater(orderId, attempt + 1));
        });
      },

      /** An in-memory retry: cleared when the saga stops, forgotten once it has run. */
      later(delayMs: number, task: () => void) {
        const timer = setTimeout(() => {
          this.retries.delete(timer);
          task();
        }, delayMs);
        timer.unref();
        this.retries.add(timer);
      },

      /**
       * A failed insert may still have landed (a timeout with the write queued on the owner), or
       * a client retrying with the same key may write the order meanwhile: the order decides, and
       * only when there is none after a while is its reservation released.
       */
      releaseUnlessWritten(orderId: string, attempt: number) {
        // Stopped: as when a node dies, the reservation is left to the Inventory service's expiry (README).
        if (!this.running) return;
        if (attempt >= IN_MEMORY_RETRIES) {
          this.logger.error({ orderId }, "reservation of an order that was never written is still held");
          return;
        }
        const delayMs =
          attempt === 0
            ? this.settings.unwrittenReleaseDelayMs
            : retryDelayMs(attempt, this.settings.retryBaseMs);
        this.later(delayMs, async () => {
          const ctx: Context = this.broker.ContextFactory.create(this.broker);
          try {
            const written = await ctx.call<Order | null, GetParams>(
              "orders.get",
              { id: orderId, fresh: true },
              toOwner(this.broker, orderId),
            );
            if (written) {
              // Written after all, but no deadline was armed for it when the insert failed.
              if (written.status === "PENDING")
                this.armDeadline(orderId, written.paymentDeadline, written.correlationId);
              return;
            }
            await ctx.call("inventory-proxy.release", { orderId });
            this.logger.warn({ orderId }, "order not written: its reservation was released");
          } catch {
            this.releaseUnlessWritten(orderId, attempt + 1);
          }
        });
      },

      /**
       * Resumes what no node is holding in memory any more: deadlines and stock releases of sagas
       * whose node died or restarted. One node scans, in one query; it runs at start-up, when a
       * node leaves and every sweepIntervalMs (a scan reads every order on FerretDB's SQLite
       * backend, about 0.1 ms each: see docs/infra.md).
       */
      async sweep(force = false) {
        // Busy: a requester tries again. Not the leader's turn: nothing to do here.
        if (this.sweeping) return false;
        if (!force && !isLeader(this.broker, "saga.sweepNow")) return true;
        this.sweeping = true;
        try {
          const now = new Date();
          const ctx: Context = this.broker.ContextFactory.create(this.broker);
          // A scan, not a request: on FerretDB's SQLite backend it reads every order and ran past
          // the 10 s request timeout at about 50 000 orders in the soak, so the sweep never got
          // to its work. Not timed out here; lib/periodic.ts spaces the scans by their cost.
          const found = await ctx.call<Order[], ScanParams>(
            "orders.needingRecovery",
            { dueBefore: now.toISOString(), limit: 400 },
            { timeout: 0 },
          );
          for (const order of found.filter((o) => o.status === "PENDING")) {
            await this.runCommand(ctx, order._id, () => ({ type: "deadline", now: new Date() }), {
              correlationId: order.correlationId,
              traceParent: traceParentOf(ctx),
            });
          }
          const unreleased = found.filter((o) => o.status === "CANCELLED" && o.stockHeld);
          for (const order of unreleased) {
            if (now.getTime() - Date.parse(order.updatedAt) < this.settings.releaseGraceMs) continue;
            await this.releaseStock(ctx, order._id);
          }
          return true;
        } catch (err) {
          this.logger.warn({ error: (err as Error).message }, "saga sweep failed, will retry");
          return false;
        } finally {
          this.sweeping = false;
        }
      },

      /**
       * This node gave up retrying something in memory (the store or a dependency was down for
       * minutes): one sweep, on any node, now rather than at the next periodic backstop.
       */
      requestSweep(attempt: number) {
        if (this.sweepRequest || !this.running) return;
        this.sweepRequest = setTimeout(
          async () => {
            this.sweepRequest = undefined;
            const done = await this.broker
              .call<{ swept: boolean }>("saga.sweepNow")
              .then((r) => r.swept)
              .catch(() => false);
            if (!done) this.requestSweep(attempt + 1);
          },
          attempt === 0 ? 1_000 : retryDelayMs(attempt, this.settings.retryBaseMs),
        );
        this.sweepRequest.unref();
      },
    },

    events: {
      // Its deadline timers and pending releases died with it: the leader scans once the
      // registry has settled.
      "$node.disconnected"() {
        this.later(1_000, () => void this.sweep());
      },
    },

    started() {
      this.running = true;
      this.sweeping = false;
      this.deadlines = new Map();
      this.retries = new Set();
      this.sweepTimer = every(this.settings.sweepIntervalMs, PHASE.recoverySweep, () => this.sweep());
      void this.sweep();
    },

    stopped() {
      this.running = false;
      this.sweepTimer?.stop();
      if (this.sweepRequest) clearTimeout(this.sweepRequest);
      this.sweepRequest = undefined;
      for (const timer of this.deadlines.values()) clearTimeout(timer);
      this.deadlines.clear();
      for (const timer of this.retries) clearTimeout(timer);
      this.retries.clear();
    },
  };
}
