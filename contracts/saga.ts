// The saga service's contract: what the gateway, the payment consumer and operators call.
import type { OrderItem, PaymentEvent } from "../domain/events";
import type { OrderStatus } from "../domain/order";

export interface PlaceOrderParams {
  items: OrderItem[];
  currency: string;
}
export interface OrderIdParams {
  id: string;
}
export interface ApplyPaymentParams {
  event: PaymentEvent;
  correlationId?: string;
  traceParent?: string;
}

export type PaymentOutcome =
  | { outcome: "applied"; status: OrderStatus; events: string[] }
  | { outcome: "ignored"; why: string }
  | { outcome: "rejected"; why: string };

export interface ForceCancelResult {
  found: boolean;
  decision: string;
  status?: OrderStatus;
}

export interface RedriveResult {
  id: string;
  done: string[];
}
