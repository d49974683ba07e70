// The saga's door: turns requests, payment events and operator commands into runs of the saga
// definition (domain/place-order.saga.ts) on its runtime (lib/saga-runtime.ts), and their results
// into answers. Nothing about the saga's steps is decided here.
import { randomUUID } from "node:crypto";
import type { Context, ServiceSchema } from "moleculer";
import { Errors } from "moleculer";
import { ORDER_ID_PARAMS } from "../contracts/order-queries";
import { ORDER_STORE, ORDER_WRITTEN, type OrderWrittenEvent } from "../contracts/order-store";
import { PLACE_ORDER_PARAMS } from "../contracts/place-order";
import type {
  ApplyPaymentParams,
  ForceCancelResult,
  OrderIdParams,
  PaymentOutcome,
  PlaceOrderParams,
  RedriveResult,
} from "../contracts/saga";
import { checkNewOrder, totalProblem } from "../domain/limits";
import { type OrderView, orderIdFor, requestHash, toView } from "../domain/order";
import type { Config } from "../lib/config";
import { toOwner } from "../lib/order-owner";
import type { OrderRecord } from "../lib/order-record";
import { SagaRuntime } from "../lib/saga-runtime";
import { traceParentOf } from "../lib/trace";
import { breakerViewMixin } from "../mixins/breaker-view.mixin";
import type { AuthenticatedMeta, RequestMeta } from "../types/moleculer";

export interface SagaSettings {
  paymentTimeoutMs: number;
  sweepIntervalMs: number;
}

interface SagaVars {
  runtime: SagaRuntime;
  onWritten: (event: OrderWrittenEvent) => void;
}

interface SagaMethods {
  replay(ctx: Context<unknown, RequestMeta>, existing: OrderRecord, hash: string): OrderView;
}

type SagaSchema = ServiceSchema<SagaSettings, SagaMethods & Record<string, never>, SagaVars>;

const notFound = () => new Errors.MoleculerClientError("Order not found", 404, "NOT_FOUND");

export function sagaService(config: Config): SagaSchema {
  return {
    name: "saga",
    // The saga is the caller of the proxies, so the breakers it sees are the ones that matter.
    mixins: [breakerViewMixin()],
    dependencies: [ORDER_STORE],
    settings: { paymentTimeoutMs: config.paymentTimeoutMs, sweepIntervalMs: config.sagaSweepIntervalMs },

    actions: {
      placeOrder: {
        auth: "required",
        params: PLACE_ORDER_PARAMS,
        async handler(ctx: Context<PlaceOrderParams, AuthenticatedMeta>): Promise<OrderView> {
          const user = ctx.meta.user;
          const input = { items: ctx.params.items, currency: ctx.params.currency };
          // What the parameter schema cannot say (each product once): the request is well formed,
          // so 422, with the fields at fault.
          const problems = checkNewOrder(input);
          if (problems.length)
            throw new Errors.MoleculerClientError(
              "The order cannot be placed",
              422,
              "INVALID_ORDER",
              problems,
            );
          const uncarriable = totalProblem(input.items);
          if (uncarriable) throw new Errors.MoleculerClientError(uncarriable, 422, "TOTAL_TOO_LARGE");
          const key = ctx.meta.idempotencyKey;
          const orderId = orderIdFor(user.id, key, randomUUID);
          const hash = requestHash(input);
          if (key) {
            const existing = await ctx.call<OrderRecord | null, OrderIdParams>(
              `${ORDER_STORE}.get`,
              { id: orderId },
              toOwner(this.broker, orderId),
            );
            if (existing) return this.replay(ctx, existing, hash);
          }
          const correlationId = ctx.meta.correlationId ?? ctx.requestID ?? orderId;
          const traceParent = ctx.meta.traceParent ?? traceParentOf(ctx);
          const result = await this.runtime.place(ctx, {
            orderId,
            userId: user.id,
            ...input,
            correlationId,
            ...(traceParent ? { traceParent } : {}),
            ...(key ? { idempotencyKey: key } : {}),
          });
          if ("failure" in result) {
            const { status, code, message, retryAfterSeconds } = result.failure;
            throw status < 500
              ? new Errors.MoleculerClientError(message, status, code)
              : new Errors.MoleculerError(message, status, code, { retryAfter: retryAfterSeconds });
          }
          if (!result.created) return this.replay(ctx, result.existing, hash);
          const order = result.record.order;
          this.logger.info(
            {
              orderId,
              correlationId,
              traceId: ctx.requestID,
              userId: user.id,
              userVerified: order.userVerified,
              total: order.total,
            },
            "order accepted",
          );
          ctx.meta.$statusCode = 202;
          ctx.meta.$responseHeaders = { Location: `/api/v1/orders/${orderId}` };
          return toView(order);
        },
      },

      cancelOrder: {
        auth: "required",
        params: ORDER_ID_PARAMS,
        async handler(ctx: Context<OrderIdParams, AuthenticatedMeta>): Promise<OrderView> {
          const user = ctx.meta.user;
          const { record, decision } = await this.runtime.handle(
            ctx,
            ctx.params.id,
            { type: "cancel", by: "owner", userId: user.id },
            {
              correlationId: ctx.meta.correlationId ?? ctx.requestID ?? ctx.params.id,
              traceParent: traceParentOf(ctx),
            },
          );
          if (!record || (decision?.kind === "reject" && decision.why === "not-owner")) throw notFound();
          if (decision?.kind === "reject") {
            throw new Errors.MoleculerClientError(
              `Order is ${record.order.status}, only PENDING orders can be cancelled`,
              409,
              "NOT_CANCELLABLE",
            );
          }
          return toView(record.order);
        },
      },

      applyPayment: {
        visibility: "public",
        async handler(ctx: Context<ApplyPaymentParams>): Promise<PaymentOutcome> {
          const { event } = ctx.params;
          const { record, decision } = await this.runtime.handle(
            ctx,
            event.orderId,
            { type: "payment", event },
            {
              correlationId: ctx.params.correlationId ?? event.orderId,
              traceParent: traceParentOf(ctx) ?? ctx.params.traceParent,
            },
          );
          if (!record || !decision) return { outcome: "rejected", why: "unknown-order" };
          if (decision.kind === "reject") return { outcome: "rejected", why: decision.why };
          if (decision.kind === "ignore") return { outcome: "ignored", why: decision.why };
          return {
            outcome: "applied",
            status: record.order.status,
            events: decision.change.events.map((e) => e.type),
          };
        },
      },

      forceCancel: {
        visibility: "public",
        params: { id: { type: "string", min: 1, max: 64 } },
        async handler(ctx: Context<OrderIdParams>): Promise<ForceCancelResult> {
          const { record, decision } = await this.runtime.handle(
            ctx,
            ctx.params.id,
            { type: "cancel", by: "operator" },
            { correlationId: `operator-${ctx.params.id}`, traceParent: traceParentOf(ctx) },
          );
          const result: ForceCancelResult = { found: !!record, decision: decision?.kind ?? "none" };
          if (record) result.status = record.order.status;
          return result;
        },
      },

      /** Operator: push one saga forward again: relay its events, enforce its deadline, compensate it. */
      redrive: {
        visibility: "public",
        params: { id: { type: "string", min: 1, max: 64 } },
        async handler(ctx: Context<OrderIdParams>): Promise<RedriveResult> {
          const done = await this.runtime.redrive(ctx, ctx.params.id);
          if (!done) throw notFound();
          return { id: ctx.params.id, done };
        },
      },

      sweepNow: {
        visibility: "public",
        async handler() {
          return { swept: await this.runtime.sweep(true) };
        },
      },
    },

    methods: {
      replay(ctx: Context<unknown, RequestMeta>, existing: OrderRecord, hash: string): OrderView {
        const { order } = existing;
        if (order.requestHash !== hash || order.userId !== ctx.meta.user?.id) {
          throw new Errors.MoleculerClientError(
            "Idempotency-Key was already used with a different request",
            422,
            "IDEMPOTENCY_KEY_REUSED",
          );
        }
        ctx.meta.$statusCode = 200;
        ctx.meta.$responseHeaders = { "Idempotent-Replayed": "true", Location: `/api/v1/orders/${order.id}` };
        return toView(order);
      },
    },

    events: {
      "$node.connected"() {
        this.runtime.membershipChanged(false);
      },
      "$node.disconnected"() {
        this.runtime.membershipChanged(true);
      },
    },

    created() {
      this.runtime = new SagaRuntime(this.broker, this.logger, {
        paymentTimeoutMs: this.settings.paymentTimeoutMs,
        sweepIntervalMs: this.settings.sweepIntervalMs,
        compensationGraceMs: 5_000,
        retry: { baseMs: 500, maxMs: 30_000, jitter: false },
        maxRetries: 8,
      });
    },

    started() {
      // The order store on this node wrote an order: this node owns it, so it keeps its deadline.
      this.onWritten = ({ record }) => this.runtime.onWritten(record.order);
      this.broker.localBus.on(ORDER_WRITTEN, this.onWritten);
      this.runtime.start();
    },

    stopped() {
      this.broker.localBus.off(ORDER_WRITTEN, this.onWritten);
      this.runtime.stop();
    },
  };
}
