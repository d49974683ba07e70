// Parameters of saga.placeOrder (POST /api/v1/orders) as a fastest-validator schema, built from
// domain/limits.ts. Its own module so that any service can import it without importing another
// service's file.
import { CURRENCIES, ORDER_LIMITS } from "../domain/limits";

export const ITEM_PARAMS = {
  type: "object",
  strict: "remove",
  props: {
    productId: {
      type: "string",
      min: 1,
      max: ORDER_LIMITS.maxProductIdLength,
      pattern: new RegExp(ORDER_LIMITS.productIdPattern),
    },
    quantity: { type: "number", integer: true, min: 1, max: ORDER_LIMITS.maxQuantity },
    unitPrice: { type: "number", integer: true, min: 0, max: ORDER_LIMITS.maxUnitPrice },
  },
} as const;

export const PLACE_ORDER_PARAMS = {
  items: { type: "array", min: 1, max: ORDER_LIMITS.maxItems, items: ITEM_PARAMS },
  currency: {
    type: "enum",
    values: [...CURRENCIES],
    messages: { enumValue: "currency must be one of {expected}, got '{actual}'" },
  },
  // Fields a client may try to set; they are dropped, never applied.
  $$strict: "remove",
} as const;
