package dev.orders.peer.messaging;

/** Every message on both topics: key = order id, this JSON body (docs/asyncapi.yaml). */
public record EventEnvelope<P>(
    String eventId, String type, Integer version, String occurredAt, String orderId, P payload) {}
