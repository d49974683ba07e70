package dev.orders.peer.order;

import java.time.Instant;

public record Refund(String paymentId, Instant requestedAt, Instant completedAt) {}
