// The one source of the order limits and of the status list. The REST parameter schema
// (contracts/), the event schemas (domain/event-schemas.ts), docs/openapi.yaml and
// docs/asyncapi.yaml are built from these or tested equal to them (test/unit/contract-limits.test.ts).
// Pure: plain values and one arithmetic check.

export const ORDER_STATUSES = ["PENDING", "CONFIRMED", "CANCELLED"] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

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
export type Currency = (typeof CURRENCIES)[number];

export const ORDER_LIMITS = {
  maxItems: 100,
  maxQuantity: 1000,
  /** Minor units (cents). */
  maxUnitPrice: 100_000_000,
  maxProductIdLength: 64,
  /** Source of a RegExp; kept as text so JSON Schema documents can carry it unchanged. */
  productIdPattern: "^[A-Za-z0-9._:-]+$",
  /**
   * The largest total or amount an event can carry (minor units). Items × quantity × unit price
   * can reach 1e13, so an order above this is refused at the door rather than accepted and then
   * unpayable.
   */
  maxAmount: 1_000_000_000_000,
  /** Order, payment and event ids. */
  maxIdLength: 64,
} as const;

export const PAGE_LIMITS = {
  maxPage: 100_000,
  maxPageSize: 100,
  defaultPageSize: 20,
} as const;

export interface PricedItem {
  quantity: number;
  unitPrice: number;
}

/** Why the events could not carry this order's total, or undefined when they can. */
export function totalProblem(items: readonly PricedItem[]): string | undefined {
  const total = items.reduce((sum, item) => sum + item.quantity * item.unitPrice, 0);
  if (total <= ORDER_LIMITS.maxAmount) return undefined;
  return `the order total ${total} exceeds the largest amount a payment can carry (${ORDER_LIMITS.maxAmount} minor units)`;
}

export interface InputProblem {
  field: string;
  message: string;
}

/** Checks beyond the action's parameter schema (cross-field rules and bounds). */
export function checkNewOrder(input: {
  items: readonly (PricedItem & { productId: string })[];
  currency: string;
}): InputProblem[] {
  const problems: InputProblem[] = [];
  if (!(CURRENCIES as readonly string[]).includes(input.currency)) {
    problems.push({ field: "currency", message: "currency must be a supported ISO 4217 code" });
  }
  if (input.items.length < 1 || input.items.length > ORDER_LIMITS.maxItems) {
    problems.push({ field: "items", message: `between 1 and ${ORDER_LIMITS.maxItems} items` });
  }
  const seen = new Set<string>();
  input.items.forEach((item, i) => {
    if (!Number.isInteger(item.quantity) || item.quantity < 1 || item.quantity > ORDER_LIMITS.maxQuantity) {
      problems.push({
        field: `items[${i}].quantity`,
        message: `integer between 1 and ${ORDER_LIMITS.maxQuantity}`,
      });
    }
    if (
      !Number.isInteger(item.unitPrice) ||
      item.unitPrice < 0 ||
      item.unitPrice > ORDER_LIMITS.maxUnitPrice
    ) {
      problems.push({
        field: `items[${i}].unitPrice`,
        message: `integer minor units, 0..${ORDER_LIMITS.maxUnitPrice}`,
      });
    }
    if (seen.has(item.productId)) {
      problems.push({ field: `items[${i}].productId`, message: "each product appears once" });
    }
    seen.add(item.productId);
  });
  return problems;
}
