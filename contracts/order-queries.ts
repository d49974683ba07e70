// Parameters of the client's order queries and of the owner's cancel (GET /api/v1/orders,
// GET /api/v1/orders/{id}, POST /api/v1/orders/{id}/cancel), built from domain/limits.ts.
import { ORDER_LIMITS, ORDER_STATUSES, PAGE_LIMITS } from "../domain/limits";

export const ORDER_ID_PARAMS = {
  id: { type: "string", min: 1, max: ORDER_LIMITS.maxIdLength },
  $$strict: "remove",
} as const;

export const LIST_OWN_PARAMS = {
  page: { type: "number", integer: true, min: 1, max: PAGE_LIMITS.maxPage, convert: true, optional: true },
  pageSize: {
    type: "number",
    integer: true,
    min: 1,
    max: PAGE_LIMITS.maxPageSize,
    convert: true,
    optional: true,
  },
  status: {
    type: "enum",
    values: [...ORDER_STATUSES],
    optional: true,
    // The default message prints the allowed values where the rejected one belongs.
    messages: { enumValue: "status must be one of {expected}, got '{actual}'" },
  },
  $$strict: "remove",
} as const;
