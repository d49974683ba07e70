package dev.orders.peer.order;

/** An event waiting in the order's outbox: the serialized message and its headers. */
public record OutboxEntry(String eventId, String type, String body, String correlationId, String traceparent) {}
