package dev.orders.peer.messaging;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.orders.peer.order.OrderSaga;
import jakarta.validation.Validator;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;
import org.springframework.kafka.annotation.KafkaListener;
import org.springframework.stereotype.Component;

/**
 * Payment results from payments.events. A message that cannot be parsed, fails validation or
 * names an unknown order is not retried: the error handler sends it to the dead-letter topic.
 * Offsets are committed after the listener returns (at least once; the saga drops duplicates).
 */
@Component
public class PaymentListener {
  private final ObjectMapper json;
  private final Validator validator;
  private final OrderSaga saga;

  public PaymentListener(ObjectMapper json, Validator validator, OrderSaga saga) {
    this.json = json;
    this.validator = validator;
    this.saga = saga;
  }

  @KafkaListener(
      topics = "${orders.topics.payment-events}",
      groupId = "${orders.kafka-consumer-group}",
      concurrency = "${orders.listener-concurrency}")
  public void onMessage(ConsumerRecord<String, String> record) {
    PaymentEvent event;
    try {
      event = json.readValue(record.value(), PaymentEvent.class);
    } catch (JsonProcessingException e) {
      throw new OrderSaga.Unprocessable("not a payment event: " + e.getOriginalMessage());
    }
    var violations = validator.validate(event);
    if (!violations.isEmpty())
      throw new OrderSaga.Unprocessable("schema: " + violations.iterator().next().getPropertyPath() + " "
          + violations.iterator().next().getMessage());
    if (!event.orderId().equals(record.key())) throw new OrderSaga.Unprocessable("key is not the order id");
    Header correlation = record.headers().lastHeader("correlation-id");
    saga.onPayment(
        event, correlation == null ? event.eventId() : new String(correlation.value(), StandardCharsets.UTF_8));
  }
}
