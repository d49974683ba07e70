package dev.orders.peer.messaging;

import dev.orders.peer.config.OrdersProperties;
import dev.orders.peer.order.Order;
import dev.orders.peer.order.OutboxEntry;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.core.task.TaskExecutor;
import org.springframework.kafka.core.KafkaTemplate;
import org.springframework.stereotype.Component;

/**
 * Publishes an order's outbox right after the write that filled it, then takes the sent entries
 * out of the document. A failed send leaves them in place for the sweep to publish again. An
 * entry already on its way (the payment result came back before its mark, and the confirmation's
 * write still carries it) is not sent a second time by this instance.
 */
@Component
public class OutboxRelay {
  private static final Logger log = LoggerFactory.getLogger(OutboxRelay.class);

  private final KafkaTemplate<String, String> kafka;
  private final OutboxMarks marks;
  private final TaskExecutor executor;
  private final String topic;
  private final Set<String> inFlight = ConcurrentHashMap.newKeySet();

  public OutboxRelay(
      KafkaTemplate<String, String> kafka,
      OutboxMarks marks,
      @Qualifier("applicationTaskExecutor") TaskExecutor executor,
      OrdersProperties properties) {
    this.kafka = kafka;
    this.marks = marks;
    this.executor = executor;
    this.topic = properties.topics().orderEvents();
  }

  public void publish(Order order) {
    List<OutboxEntry> entries = order.getOutbox().stream().filter(e -> inFlight.add(e.eventId())).toList();
    if (entries.isEmpty()) return;
    var sends =
        entries.stream().map(e -> kafka.send(record(order.getId(), e))).toArray(CompletableFuture[]::new);
    String id = order.getId();
    List<String> ids = entries.stream().map(OutboxEntry::eventId).toList();
    // Not on the producer's I/O thread: the mark is a blocking store write.
    CompletableFuture.allOf(sends)
        .thenRunAsync(() -> marks.markSent(id, entries), executor)
        .whenComplete(
            (done, err) -> {
              ids.forEach(inFlight::remove);
              if (err != null)
                log.warn("outbox of order {} not published yet, the sweep will retry: {}", id, err.toString());
            });
  }

  private ProducerRecord<String, String> record(String key, OutboxEntry e) {
    var record = new ProducerRecord<>(topic, key, e.body());
    record.headers().add("event-type", bytes(e.type()));
    record.headers().add("content-type", bytes("application/json"));
    record.headers().add("correlation-id", bytes(e.correlationId()));
    if (e.traceparent() != null) record.headers().add("traceparent", bytes(e.traceparent()));
    return record;
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
