package dev.orders.peer.messaging;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.orders.peer.order.OrderSaga;
import jakarta.annotation.PreDestroy;
import jakarta.validation.Validator;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentSkipListMap;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;
import org.springframework.boot.task.ThreadPoolTaskExecutorBuilder;
import org.springframework.kafka.annotation.KafkaListener;
import org.springframework.kafka.listener.BatchListenerFailedException;
import org.springframework.scheduling.concurrent.ThreadPoolTaskExecutor;
import org.springframework.stereotype.Component;

/**
 * Payment results from payments.events, a fetched batch at a time: the records of one order in
 * offset order, different orders at the same time on the payment workers (one record at a time
 * per partition made the listener as slow as two store round trips, and it fell behind the
 * orders it accepted). A message that cannot be parsed, fails validation or names an unknown
 * order is not retried: the error handler sends it to the dead-letter topic. Offsets are
 * committed up to the first record that failed (at least once; the saga drops duplicates).
 */
@Component
public class PaymentListener {
  /** Orders of a fetched batch handled at the same time, over all partitions. */
  private static final int WORKERS = 16;

  private final ObjectMapper json;
  private final Validator validator;
  private final OrderSaga saga;
  /**
   * Its own pool, not an Executor bean: one would make Boot drop its applicationTaskExecutor,
   * which the relay uses.
   */
  private final ThreadPoolTaskExecutor workers;

  public PaymentListener(
      ObjectMapper json, Validator validator, OrderSaga saga, ThreadPoolTaskExecutorBuilder executors) {
    this.json = json;
    this.validator = validator;
    this.saga = saga;
    this.workers = executors.corePoolSize(WORKERS).maxPoolSize(WORKERS).threadNamePrefix("payment-").build();
    this.workers.initialize();
  }

  @PreDestroy
  void stop() {
    workers.shutdown();
  }

  @KafkaListener(
      topics = "${orders.topics.payment-events}",
      groupId = "${orders.kafka-consumer-group}",
      concurrency = "${orders.listener-concurrency}",
      batch = "true")
  public void onMessages(List<ConsumerRecord<String, String>> records) {
    Map<String, List<Integer>> byOrder = new LinkedHashMap<>();
    for (int i = 0; i < records.size(); i++)
      byOrder.computeIfAbsent(String.valueOf(records.get(i).key()), k -> new ArrayList<>()).add(i);
    var failures = new ConcurrentSkipListMap<Integer, RuntimeException>();
    var running =
        byOrder.values().stream()
            .map(
                indexes ->
                    CompletableFuture.runAsync(
                        () -> {
                          for (int i : indexes) {
                            try {
                              onMessage(records.get(i));
                            } catch (RuntimeException e) {
                              failures.put(i, e); // the order's later records wait for the redelivery
                              return;
                            }
                          }
                        },
                        workers))
            .toArray(CompletableFuture[]::new);
    CompletableFuture.allOf(running).join();
    if (failures.isEmpty()) return;
    // The error handler commits before the first failure, retries or dead-letters it, and
    // delivers the rest again (those already applied are dropped as duplicates).
    var first = failures.firstEntry();
    throw new BatchListenerFailedException(first.getValue().getMessage(), first.getValue(), first.getKey());
  }

  private void onMessage(ConsumerRecord<String, String> record) {
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
