package dev.orders.peer.order;

public enum OrderStatus {
  PENDING,
  CONFIRMED,
  CANCELLED
}
