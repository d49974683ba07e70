// What an order may hold and what the events can carry: one source for the REST params schema,
// the event schemas and both contract documents. Pure.
import type { OrderItem } from "./events";

export const ORDER_STATUSES = ["PENDING", "CONFIRMED", "CANCELLED"] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const LIMITS = {
  maxItems: 100,
  maxQuantity: 1000,
  maxUnitPrice: 100_000_000,
  maxProductIdLength: 64,
  /** Largest amount an event carries (minor units): an order's total may not exceed it. */
  maxAmount: 1_000_000_000_000,
} as const;

/** ISO 4217 codes accepted; a closed list keeps garbage out of reports and payment calls. */
export const CURRENCIES = [
  "EUR",
  "USD",
  "GBP",
  "CHF",
  "JPY",
  "SEK",
  "NOK",
  "DKK",
  "PLN",
  "CZK",
  "CAD",
  "AUD",
  "NZD",
] as const;

export interface InputProblem {
  field: string;
  message: string;
}

/** Checks beyond the action's parameter schema (cross-field rules and bounds). */
export function checkNewOrder(input: { items: OrderItem[]; currency: string }): InputProblem[] {
  const problems: InputProblem[] = [];
  if (!(CURRENCIES as readonly string[]).includes(input.currency)) {
    problems.push({ field: "currency", message: "currency must be a supported ISO 4217 code" });
  }
  if (input.items.length < 1 || input.items.length > LIMITS.maxItems) {
    problems.push({ field: "items", message: `between 1 and ${LIMITS.maxItems} items` });
  }
  const seen = new Set<string>();
  input.items.forEach((item, i) => {
    if (!Number.isInteger(item.quantity) || item.quantity < 1 || item.quantity > LIMITS.maxQuantity) {
      problems.push({
        field: `items[${i}].quantity`,
        message: `integer between 1 and ${LIMITS.maxQuantity}`,
      });
    }
    if (!Number.isInteger(item.unitPrice) || item.unitPrice < 0 || item.unitPrice > LIMITS.maxUnitPrice) {
      problems.push({
        field: `items[${i}].unitPrice`,
        message: `integer minor units, 0..${LIMITS.maxUnitPrice}`,
      });
    }
    if (seen.has(item.productId)) {
      problems.push({ field: `items[${i}].productId`, message: "each product appears once" });
    }
    seen.add(item.productId);
  });
  const total = input.items.reduce((sum, item) => sum + item.quantity * item.unitPrice, 0);
  if (total > LIMITS.maxAmount) {
    problems.push({
      field: "items",
      message: `order total ${total} exceeds ${LIMITS.maxAmount} minor units, the most a payment event carries`,
    });
  }
  return problems;
}
