package dev.orders.peer.order;

import java.time.Instant;
import java.util.List;

public record OrderView(
    String id,
    String userId,
    List<Item> items,
    long total,
    String currency,
    OrderStatus status,
    String reason,
    long version,
    List<Transition> history,
    boolean userVerified,
    Instant paymentDeadline,
    Instant createdAt,
    Instant updatedAt) {}
