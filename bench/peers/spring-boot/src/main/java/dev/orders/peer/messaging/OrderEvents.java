package dev.orders.peer.messaging;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.orders.peer.order.Item;
import dev.orders.peer.order.OutboxEntry;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.UUID;
import org.springframework.stereotype.Component;

/** Builds the order events of docs/asyncapi.yaml as outbox entries (serialized once, sent as they are). */
@Component
public class OrderEvents {
  public record Created(String userId, List<Item> items, long total, String currency, String paymentDeadline) {}

  public record Confirmed(String userId, String paymentId, long total, String currency) {}

  public record Cancelled(String userId, String reason) {}

  public record RefundRequested(String userId, String paymentId, long amount, String currency, String reason) {}

  private final ObjectMapper json;

  public OrderEvents(ObjectMapper json) {
    this.json = json;
  }

  public OutboxEntry entry(String type, String orderId, Object payload, String correlationId, String traceparent) {
    var envelope =
        new EventEnvelope<>(
            UUID.randomUUID().toString(),
            type,
            1,
            Instant.now().truncatedTo(ChronoUnit.MILLIS).toString(),
            orderId,
            payload);
    try {
      return new OutboxEntry(
          envelope.eventId(), type, json.writeValueAsString(envelope), correlationId, traceparent);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("order event not serializable", e);
    }
  }
}
