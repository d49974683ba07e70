package dev.orders.peer.order;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.time.Instant;

/** One step of the order's history; {@code from} is null for the first one and is always written. */
public record Transition(
    @JsonInclude(JsonInclude.Include.ALWAYS) OrderStatus from, OrderStatus to, Instant at, String reason) {}
