// The participants' contracts: what the saga's steps call on the proxies of the User and
// Inventory services (their actions' params and results).
import type { OrderItem } from "../domain/events";
import type { UserCheck } from "../domain/resilience";

export interface CheckUserParams {
  id: string;
}
export type CheckUserResult = UserCheck;

export interface ReserveParams {
  orderId: string;
  items: Pick<OrderItem, "productId" | "quantity">[];
}
export interface ReserveResult {
  reserved: true;
}

export interface ReleaseParams {
  orderId: string;
}
export interface ReleaseResult {
  released: true;
}
